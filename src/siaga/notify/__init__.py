"""Notifications: a transactional outbox delivered by the worker over e-mail, Telegram and
signed webhooks, plus each user's in-app inbox."""

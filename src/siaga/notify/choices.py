from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    TELEGRAM = "telegram", _("Telegram")
    WEBHOOK = "webhook", _("Webhook")
    INAPP = "inapp", _("In-app")


# A person's own channels; a webhook belongs to a unit, and in-app messages need no endpoint.
PERSONAL_CHANNELS = (Channel.EMAIL, Channel.TELEGRAM)


class EndpointChannel(models.TextChoices):
    EMAIL = Channel.EMAIL.value, Channel.EMAIL.label
    TELEGRAM = Channel.TELEGRAM.value, Channel.TELEGRAM.label
    WEBHOOK = Channel.WEBHOOK.value, Channel.WEBHOOK.label


class MessageState(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    DEAD = "dead", _("dead letter")
    # Merged into an earlier message of its group, which carries the count; never sent itself.
    GROUPED = "grouped", _("grouped")


class CircuitState(models.TextChoices):
    CLOSED = "closed", _("closed")
    OPEN = "open", _("open")
    HALF_OPEN = "half_open", _("half-open")

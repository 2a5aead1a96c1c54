"""The unread count beside "Notifikasi" in the navigation bar."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from siaga.notify.models import Message


def unread(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that do not show the navigation bar do not pay for the query.
    return {"notify_unread": lambda: Message.objects.unread_count(user)}

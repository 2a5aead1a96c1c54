"""The in-app inbox: reading messages."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.core.errors import NotFound
from siaga.notify.models import Message

logger = logging.getLogger("siaga.notify")


def mark_read(*, actor: User, message_id: uuid.UUID) -> Message:
    with transaction.atomic():
        message = Message.objects.inbox_of(actor).filter(pk=message_id).first()
        if message is None:
            raise NotFound(
                "message_not_found", _("No such message."), detail={"message": str(message_id)}
            )
        if message.read_at is None:
            message.read_at = timezone.now()
            message.save(update_fields=["read_at", "updated_at"])
    return message


def mark_all_read(*, actor: User) -> int:
    with transaction.atomic():
        return (
            Message.objects.inbox_of(actor)
            .filter(read_at__isnull=True)
            .update(read_at=timezone.now(), updated_at=timezone.now())
        )

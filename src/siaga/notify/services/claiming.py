"""Claiming due messages with a lease, so that workers share the outbox and never send one
message at the same time.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from siaga.notify.channels import Outgoing
from siaga.notify.choices import MessageState
from siaga.notify.models import Message
from siaga.notify.services.outcomes import _record
from siaga.notify.services.rendering import Outcome, _outgoing, default_worker_name

logger = logging.getLogger("siaga.notify")


def _due(now: datetime) -> QuerySet[Message]:
    return Message.objects.filter(state=MessageState.PENDING, next_attempt_at__lte=now)


def _claim(now: datetime, *, limit: int, worker: str) -> list[Outgoing]:
    """The claim itself; runs inside a transaction."""
    owner = f"{worker or default_worker_name()}/{secrets.token_hex(4)}"
    lease_until = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    candidates = _due(now).order_by("next_attempt_at").values_list("pk", flat=True)
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    ids = list(candidates[:limit])
    if not ids:
        return []
    Message.objects.filter(pk__in=ids).update(
        lease_until=lease_until,
        lease_owner=owner,
        next_attempt_at=lease_until,
        attempts=F("attempts") + 1,
    )
    claimed = (
        Message.objects.filter(pk__in=ids)
        .select_related("endpoint", "user")
        .order_by("next_attempt_at", "created_at")
    )
    return [_outgoing(m) for m in claimed]


def claim_due(*, limit: int = 100, worker: str = "") -> list[Outgoing]:
    """Lease up to ``limit`` due messages to this worker, in a short transaction of their own.

    A lease moves ``next_attempt_at`` to its end: a message whose worker died is due again
    when the lease runs out, with no other query. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps
    concurrent workers apart; on SQLite the IMMEDIATE transaction does.
    """
    return settle_and_claim([], limit=limit, worker=worker)


def settle_and_claim(
    outcomes: Sequence[Outcome], *, limit: int, worker: str = ""
) -> list[Outgoing]:
    """Record finished sends and claim the next due messages, in one short transaction.

    One write transaction per round instead of two: on a busy SQLite database every write
    transaction waits for the one lock. An idle outbox costs a plain indexed read, no lock.
    """
    now = timezone.now()
    claim = limit > 0 and _due(now).exists()
    if not outcomes and not claim:
        return []
    with transaction.atomic():
        if outcomes:
            _record(outcomes, now)
        return _claim(now, limit=limit, worker=worker) if claim else []

"""Claiming due messages with a lease, so that workers share the outbox and never send one
message at the same time; and giving leases back at a graceful stop.

Fairness between receivers lives here. A claim never takes a message for a receiving system
(``Endpoint.delivery_key``) that already has SIAGA_NOTIFY_ENDPOINT_CONCURRENCY sends under way
— counted over every worker, as the leases held in the database — nor for one whose circuit is
open or probing (``circuits``). Those messages stay due and are left out in SQL, so a receiver
that hangs holds at most that many threads, and the messages behind it in the queue go on.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, QuerySet
from django.utils import timezone

from siaga.notify.channels import Outgoing
from siaga.notify.choices import MessageState
from siaga.notify.models import Circuit, Message
from siaga.notify.services import circuits
from siaga.notify.services.outcomes import _record, _release
from siaga.notify.services.rendering import Outcome, default_worker_name, outgoing

logger = logging.getLogger("siaga.notify")

# How many passes a claim makes over the due messages when the first rows it read were of
# receivers that filled up meanwhile.
_PASSES = 4


def _due(now: datetime) -> QuerySet[Message]:
    return Message.objects.filter(state=MessageState.PENDING, next_attempt_at__lte=now)


def in_flight(now: datetime, keys: Sequence[str] | None = None) -> dict[str, int]:
    """Sends under way per receiver, over every worker: the leases held now."""
    leased = Message.objects.filter(state=MessageState.PENDING, lease_until__gt=now)
    if keys is not None:
        leased = leased.filter(endpoint__delivery_key__in=keys)
    rows = leased.values("endpoint__delivery_key").annotate(n=Count("pk")).order_by()
    return {row["endpoint__delivery_key"]: row["n"] for row in rows}


def _lock_key(key: str) -> bool:
    """PostgreSQL: this transaction alone claims for ``key`` (SQLite's IMMEDIATE transaction
    serializes every claim). A key another worker is claiming for is skipped, not waited for."""
    if connection.vendor != "postgresql":
        return True
    lock = int.from_bytes(
        hashlib.blake2b(f"notify-claim|{key}".encode(), digest_size=8).digest(), "big", signed=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock])
        row = cursor.fetchone()
    return bool(row and row[0])


def _claim(now: datetime, *, limit: int, worker: str) -> list[Outgoing]:
    """The claim itself; runs inside a transaction."""
    owner = f"{worker or default_worker_name()}/{secrets.token_hex(4)}"
    lease_until = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    per_key = settings.NOTIFY_ENDPOINT_CONCURRENCY
    open_circuits = circuits.not_closed()
    circuits.defer_open(open_circuits, now)
    busy = in_flight(now)
    blocked = circuits.blocked(open_circuits, now) | {k for k, n in busy.items() if n >= per_key}
    # SQLite: the IMMEDIATE transaction holds the database's one write lock, so this
    # transaction's first reads stay true until it commits.
    serialized = connection.vendor != "postgresql"
    allowed: dict[str, int] = {}  # keys locked by this claim: how many more it may take
    probes: dict[str, uuid.UUID] = {}
    ids: list[uuid.UUID] = []
    for _pass in range(_PASSES):
        candidates = _due(now).exclude(pk__in=ids)
        if blocked:
            candidates = candidates.exclude(endpoint__delivery_key__in=sorted(blocked))
        rows_query = candidates.order_by("next_attempt_at").values_list(
            "pk", "endpoint__delivery_key"
        )
        if connection.features.has_select_for_update_skip_locked:
            rows_query = rows_query.select_for_update(skip_locked=True, of=("self",))
        wanted = limit - len(ids)
        rows = list(rows_query[: wanted * 2 + 8])
        for pk, key in rows:
            if key in blocked:
                continue
            if key not in allowed:
                if not _lock_key(key):
                    blocked.add(key)
                    continue
                if serialized:
                    left, circuit = per_key - busy.get(key, 0), open_circuits.get(key)
                else:
                    # Read again under the key's lock: another worker may have committed
                    # leases, or started a probe, since this transaction's first reads.
                    left = per_key - in_flight(now, [key]).get(key, 0)
                    circuit = Circuit.objects.filter(key=key, open_until__isnull=False).first()
                if circuit is not None:
                    if circuit.state(now) == "open" or circuit.probing(now):
                        left = 0
                    else:
                        left = min(left, 1)  # half-open: one probe
                        probes[key] = pk
                        circuits.start_probe(circuit, pk, lease_until)
                allowed[key] = left
            if allowed[key] <= 0:
                blocked.add(key)
                continue
            ids.append(pk)
            allowed[key] -= 1
            if allowed[key] <= 0:
                blocked.add(key)
            if len(ids) >= limit:
                break
        if len(ids) >= limit or len(rows) < wanted * 2 + 8:
            break
    if not ids:
        return []
    # An expired lease is an attempt without a recorded outcome (its worker died mid-send):
    # this send may repeat what the recipient already has.
    Message.objects.filter(pk__in=ids, lease_until__isnull=False).update(possible_repeat=True)
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
    return [outgoing(m) for m in claimed]


def claim_due(*, limit: int = 100, worker: str = "") -> list[Outgoing]:
    """Lease up to ``limit`` due messages to this worker, in a short transaction of their own.

    A lease moves ``next_attempt_at`` to its end: a message whose worker died is due again
    when the lease runs out, with no other query. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps
    concurrent workers apart; on SQLite the IMMEDIATE transaction does.
    """
    return settle_and_claim([], limit=limit, worker=worker)


def settle_and_claim(
    outcomes: Sequence[Outcome],
    *,
    limit: int,
    worker: str = "",
    release: Sequence[Outgoing] = (),
) -> list[Outgoing]:
    """Record finished sends, give back unsent leases, and claim the next due messages, in one
    short transaction.

    One write transaction per round instead of two: on a busy SQLite database every write
    transaction waits for the one lock. An idle outbox costs a plain indexed read, no lock.
    """
    now = timezone.now()
    claim = limit > 0 and _due(now).exists()
    if not outcomes and not claim and not release:
        return []
    with transaction.atomic():
        if outcomes:
            _record(outcomes, now)
        if release:
            _release(release, now)
        return _claim(now, limit=limit, worker=worker) if claim else []

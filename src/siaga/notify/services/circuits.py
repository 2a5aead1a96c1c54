"""The circuit breaker of each receiving system (``Endpoint.delivery_key``).

After SIAGA_NOTIFY_BREAKER_FAILURES consecutive failed sends (timeouts, refused connections,
non-2xx answers; not permanent refusals such as "chat not found") a receiver's circuit opens
for SIAGA_NOTIFY_BREAKER_COOLDOWN_SECONDS: its due messages are deferred to the cool-down's end
without a send and without using an attempt. Then one message is the half-open probe: its
success closes the circuit, its failure opens it for another cool-down. Any success closes it.

The state is a row per receiver (``Circuit``), read and written inside the claim's and the
record's transactions, so every worker process sees the same state: a failure counted by one
worker counts for all, and one probe is sent however many workers there are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from siaga.notify.choices import MessageState
from siaga.notify.models import Circuit, Message

logger = logging.getLogger("siaga.notify")


def not_closed() -> dict[str, Circuit]:
    """The circuits that are open or half-open, by key (few rows: an index-free scan is fine)."""
    return {c.key: c for c in Circuit.objects.filter(open_until__isnull=False)}


def blocked(circuits: dict[str, Circuit], now: datetime) -> set[str]:
    """Keys whose messages no claim may take now: open, or half-open with a probe under way."""
    return {
        key
        for key, circuit in circuits.items()
        if circuit.open_until is not None and (circuit.open_until > now or circuit.probing(now))
    }


def defer_open(circuits: dict[str, Circuit], now: datetime) -> int:
    """Move the due messages of open circuits to the cool-down's end: no send, no attempt.

    Leases are kept as they are: a message whose worker died is still known to be a possible
    repeat when it is finally sent."""
    deferred = 0
    for key, circuit in circuits.items():
        if circuit.open_until is None or circuit.open_until <= now:
            continue
        deferred += Message.objects.filter(
            state=MessageState.PENDING,
            next_attempt_at__lte=now,
            endpoint__delivery_key=key,
        ).update(next_attempt_at=circuit.open_until)
    return deferred


def start_probe(circuit: Circuit, message_id: uuid.UUID, until: datetime) -> None:
    Circuit.objects.filter(pk=circuit.pk).update(probe_message=message_id, probe_until=until)
    circuit.probe_message, circuit.probe_until = message_id, until


def end_probes(message_ids: Iterable[uuid.UUID]) -> None:
    """Released probes (not sent): the next claim may probe again at once."""
    Circuit.objects.filter(probe_message__in=list(message_ids)).update(
        probe_message=None, probe_until=None
    )


def _locked(key: str) -> Circuit:
    circuit = Circuit.objects.select_for_update().filter(key=key).first()
    if circuit is not None:
        return circuit
    try:
        with transaction.atomic():
            return Circuit.objects.create(key=key)
    except IntegrityError:  # another worker created it meanwhile
        return Circuit.objects.select_for_update().get(key=key)


def record(results: dict[str, list[tuple[bool, str]]], now: datetime) -> None:
    """Count each receiver's sends, in the order they finished: ``(succeeded, error)``.

    Runs inside the record transaction. The common case, successes to a closed circuit with no
    failures, costs one UPDATE that changes nothing."""
    failing = sorted(k for k, r in results.items() if k and not all(ok for ok, _e in r))
    healthy = [k for k in results if k and k not in failing]
    if healthy:
        reopened = Circuit.objects.filter(key__in=healthy).filter(
            Q(failures__gt=0) | Q(open_until__isnull=False)
        )
        for key in reopened.filter(open_until__isnull=False).values_list("key", flat=True):
            logger.warning("notify: circuit of %s closed: a send succeeded", key)
        reopened.update(
            failures=0, opened_at=None, open_until=None, probe_message=None, probe_until=None
        )
    threshold = settings.NOTIFY_BREAKER_FAILURES
    cooldown = timedelta(seconds=settings.NOTIFY_BREAKER_COOLDOWN_SECONDS)
    for key in failing:  # sorted: two workers lock rows in one order
        circuit = _locked(key)
        was = circuit.state(now)
        for succeeded, error in results[key]:
            if succeeded:
                circuit.failures, circuit.opened_at, circuit.open_until = 0, None, None
                circuit.probe_message = circuit.probe_until = None
                continue
            circuit.failures += 1
            circuit.last_error = error
            state = circuit.state(now)
            if state == "half_open" or (state == "closed" and circuit.failures >= threshold):
                # A failed probe (or any failure after the cool-down) opens it again.
                circuit.opened_at, circuit.open_until = now, now + cooldown
                circuit.probe_message = circuit.probe_until = None
        circuit.save()
        if circuit.state(now) != was:
            logger.warning(
                "notify: circuit of %s is %s after %d consecutive failure(s): %s",
                key,
                circuit.state(now),
                circuit.failures,
                circuit.last_error,
            )

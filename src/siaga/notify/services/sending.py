"""Sending claimed messages over their channels, outside any transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from siaga.notify import channels
from siaga.notify.channels import DeliveryError, LeaseRunOut, Outgoing
from siaga.notify.services.claiming import claim_due
from siaga.notify.services.outcomes import record_outcomes
from siaga.notify.services.rendering import Outcome

logger = logging.getLogger("siaga.notify")


def send_one(outgoing: Outgoing) -> Outcome:
    """Send one claimed message (no database access); the outcome, never an exception.

    A message whose lease is nearly over when a thread gets to it is not sent (``LeaseRunOut``):
    the send could outlast the lease, and another worker may then send it too."""
    if outgoing.lease_left() < min(1.0, settings.NOTIFY_LEASE_SECONDS * 0.2):
        return outgoing, LeaseRunOut()
    try:
        channels.send(outgoing)
    except DeliveryError as exc:
        return outgoing, exc
    except Exception as exc:  # a bug in a channel must cost one message, not the worker
        logger.exception("notify: sending message %s failed unexpectedly", outgoing.id)
        return outgoing, DeliveryError(f"unexpected error: {type(exc).__name__}: {exc}")
    return outgoing, None


def send_all(batch: Sequence[Outgoing]) -> list[Outcome]:
    """Send concurrently: a slow endpoint holds one thread, not the others' messages."""
    if len(batch) <= 1:
        return [send_one(o) for o in batch]
    threads = min(len(batch), settings.NOTIFY_CONCURRENCY)
    with ThreadPoolExecutor(threads, thread_name_prefix="notify-send") as pool:
        return list(pool.map(send_one, batch))


def deliver_due(*, limit: int = 100, worker: str = "") -> int:
    """Claim what is due, send it, record how it went; returns how many were attempted.

    The worker's loop does the same with a lasting thread pool (``siaga.notify.delivery``).
    """
    batch = claim_due(limit=limit, worker=worker)
    if batch:
        record_outcomes(send_all(batch))
    return len(batch)

"""The worker's delivery loop: poll the outbox often, send in a thread pool, record outcomes.

One thread owns the database work: each round records finished sends and claims new ones in
one short transaction. The pool's threads only talk to the network. The loop polls every
SIAGA_NOTIFY_POLL_SECONDS with a cheap indexed read, and wakes at once when this process
commits outbox messages (``services.delivery_wanted``) or when a send finishes.

It keeps at most ``concurrency`` sends running and as many again claimed and waiting for a
thread, so that a thread that finishes starts the next send without waiting for a database
round. The claim itself limits each receiving system to SIAGA_NOTIFY_ENDPOINT_CONCURRENCY sends
under way and skips receivers whose circuit is open (``services.claiming``): a receiver that
hangs holds at most that many threads while the others keep delivering.

Stopping (``stop`` set, e.g. on SIGTERM): no more claims; the messages claimed and not yet
started are given back at once (their leases cleared, their attempt not counted), so another
worker sends them now rather than when the lease runs out; the outcomes of sends that finish
within the grace period are recorded. A send still under way after it keeps its lease: its
outcome is unknown, and the message is sent again, marked as a possible repeat, when the lease
runs out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connections

from siaga.notify import services
from siaga.notify.channels import Outgoing

logger = logging.getLogger("siaga.notify")


class DeliveryLoop:
    def __init__(
        self,
        *,
        worker: str = "",
        concurrency: int | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.worker = worker or services.default_worker_name()
        self.concurrency = concurrency or settings.NOTIFY_CONCURRENCY
        self.poll_seconds = poll_seconds or settings.NOTIFY_POLL_SECONDS
        # Claimed at most: the running sends and as many waiting for a thread.
        self.capacity = 2 * self.concurrency
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="notify-send")
        # Finished sends: an outcome, or a message whose send was cancelled before it began.
        self.finished: queue.SimpleQueue[services.Outcome | Outgoing] = queue.SimpleQueue()
        self.in_flight = 0
        self.wake = services.delivery_wanted

    def run(self, stop: threading.Event, *, grace_seconds: float = 5.0) -> None:
        """Deliver until ``stop`` is set; then give back the unstarted claims and wait up to
        ``grace_seconds`` for sends under way."""
        tidied = time.monotonic()
        try:
            while not stop.is_set():
                self.wake.clear()
                try:
                    self.step()
                except Exception:
                    logger.exception("notify: delivery loop failed; trying again shortly")
                    close_old_connections()
                    stop.wait(1.0)
                if time.monotonic() - tidied > 1.0:
                    # Not on every poll: with SQLite (CONN_MAX_AGE 0) that would reconnect
                    # twenty times a second.
                    close_old_connections()
                    tidied = time.monotonic()
                if not stop.is_set():
                    self.wake.wait(self.poll_seconds)
        finally:
            # Cancelling runs the done callbacks at once: the unstarted ones are in `finished`.
            self.pool.shutdown(wait=False, cancel_futures=True)
            self._drain(grace_seconds)
            # This thread is done with the database: close, not just tidy (a PostgreSQL
            # connection younger than CONN_MAX_AGE would otherwise stay open until collected).
            connections.close_all()

    def step(self) -> int:
        """Record finished sends and claim what fits; returns claims."""
        outcomes, unstarted = self._take_finished()
        free = self.capacity - self.in_flight
        # Should this fail, those outcomes are not recorded: the messages' leases run out and
        # they are sent again, marked as possible repeats (receivers de-duplicate by id).
        batch = services.settle_and_claim(
            outcomes, limit=free, worker=self.worker, release=unstarted
        )
        for outgoing in batch:
            self.in_flight += 1
            future = self.pool.submit(services.send_one, outgoing)
            future.add_done_callback(partial(self._finished_send, outgoing))
        return len(batch)

    def _finished_send(self, outgoing: Outgoing, future: Future[services.Outcome]) -> None:
        self.finished.put(outgoing if future.cancelled() else future.result())
        self.wake.set()

    def _take_finished(self) -> tuple[list[services.Outcome], list[Outgoing]]:
        outcomes: list[services.Outcome] = []
        unstarted: list[Outgoing] = []
        while True:
            try:
                item = self.finished.get_nowait()
            except queue.Empty:
                return outcomes, unstarted
            self.in_flight -= 1
            if isinstance(item, Outgoing):
                unstarted.append(item)
            else:
                outcomes.append(item)

    def _drain(self, grace_seconds: float) -> None:
        """Give back what never started, at once; record the sends that finish within the grace
        period; the rest keep their leases."""
        deadline = time.monotonic() + grace_seconds
        first = True
        while first or (self.in_flight > 0 and time.monotonic() < deadline):
            if not first:
                self.wake.wait(0.05)
                self.wake.clear()
            first = False
            outcomes, unstarted = self._take_finished()
            if not outcomes and not unstarted:
                continue
            try:
                services.settle_and_claim(outcomes, limit=0, release=unstarted)
            except Exception:
                logger.exception("notify: recording deliveries at shutdown failed")
                return
            if unstarted:
                logger.info("notify: gave back %d unsent message(s) at shutdown", len(unstarted))
        if self.in_flight:
            logger.warning(
                "notify: %d send(s) still under way at shutdown keep their leases", self.in_flight
            )


def run(stop: threading.Event) -> None:
    """The worker's loop (``siaga.core.jobs``): deliver until ``stop`` is set."""
    DeliveryLoop().run(stop)


def run_once() -> None:
    """``siaga worker --batch``: deliver what is due now (retries that fall due meanwhile
    too), then stop."""
    try:
        while services.deliver_due(limit=100):
            pass
    finally:
        close_old_connections()

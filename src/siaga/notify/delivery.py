"""The worker's delivery loop: poll the outbox often, send in a thread pool, record outcomes.

One thread owns the database work: each round records finished sends and claims new ones in
one short transaction. The pool's threads only talk to the network. The loop polls every
SIAGA_NOTIFY_POLL_SECONDS with a cheap indexed read, and wakes at once when this process
commits outbox messages (``services.delivery_wanted``) or when a send finishes. It claims only
as many messages as it has free threads, so a slow endpoint occupies one thread while the
others keep delivering.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from siaga.notify import services

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
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="notify-send")
        # Outcomes of finished sends; None for a send cancelled at shutdown before it began.
        self.finished: queue.SimpleQueue[services.Outcome | None] = queue.SimpleQueue()
        self.in_flight = 0
        self.wake = services.delivery_wanted

    def run(self, stop: threading.Event, *, grace_seconds: float = 5.0) -> None:
        """Deliver until ``stop`` is set; then wait up to ``grace_seconds`` for sends under way."""
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
                self.wake.wait(self.poll_seconds)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self._drain(grace_seconds)
            # This thread is done with the database: close, not just tidy (a PostgreSQL
            # connection younger than CONN_MAX_AGE would otherwise stay open until collected).
            connections.close_all()

    def step(self) -> int:
        """Record finished sends and claim what fits in the free threads; returns claims."""
        outcomes = self._take_finished()
        free = self.concurrency - self.in_flight
        # Should this fail, those outcomes are not recorded: the messages' leases run out and
        # they are sent again (receivers de-duplicate by id).
        batch = services.settle_and_claim(outcomes, limit=free, worker=self.worker)
        for outgoing in batch:
            self.in_flight += 1
            future = self.pool.submit(services.send_one, outgoing)
            future.add_done_callback(self._finished_send)
        return len(batch)

    def _finished_send(self, future: Future[services.Outcome]) -> None:
        # A cancelled send never started: its lease runs out and it is sent again.
        self.finished.put(None if future.cancelled() else future.result())
        self.wake.set()

    def _take_finished(self) -> list[services.Outcome]:
        outcomes: list[services.Outcome] = []
        while True:
            try:
                item = self.finished.get_nowait()
            except queue.Empty:
                return outcomes
            self.in_flight -= 1
            if item is not None:
                outcomes.append(item)

    def _drain(self, grace_seconds: float) -> None:
        """Record the sends that finish within the grace period; the rest fall to their lease."""
        deadline = time.monotonic() + grace_seconds
        while self.in_flight > 0 and time.monotonic() < deadline:
            self.wake.wait(0.05)
            self.wake.clear()
            outcomes = self._take_finished()
            if not outcomes:
                continue
            try:
                services.settle_and_claim(outcomes, limit=0)
            except Exception:
                logger.exception("notify: recording deliveries at shutdown failed")
                return


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

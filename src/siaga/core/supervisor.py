"""``siaga worker``'s body: the task queue, the apps' loops and periodic jobs, a heartbeat.

Nothing transient ends it. The database restarting, a broker going away or a job raising is
logged, waited out with backoff (0.5 s doubling up to ``SIAGA_WORKER_BACKOFF_MAX_SECONDS``) and
tried again; only SIGTERM/SIGINT (or ``--max-tasks``, ``--batch``) stop it. The first signal
stops it gracefully — the task under way finishes, loops get their grace period — a second
ends the process at once, as ``kill -9`` would (every task and delivery is at-least-once, so
nothing is lost, only repeated).

Every ``SIAGA_WORKER_HEARTBEAT_SECONDS`` the worker writes its row of
:class:`~siaga.core.models.WorkerHeartbeat` with how each of its parts fared last; ``/readyz``
and the operations page read them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from siaga.core import jobs
from siaga.core.models import WorkerHeartbeat
from siaga.core.services import requeue_abandoned_tasks

logger = logging.getLogger("siaga.worker")

TASKS = "tasks"
REQUEUE = "core.requeue"
HEARTBEAT = "heartbeat"


class Backoff:
    """0.5 s, 1 s, 2 s … up to the maximum; ``reset`` after a success."""

    def __init__(self, initial: float = 0.5, maximum: float | None = None) -> None:
        self.initial = initial
        self.maximum = maximum if maximum is not None else settings.WORKER_BACKOFF_MAX_SECONDS
        self.delay = 0.0

    def next(self) -> float:
        self.delay = min(self.maximum, self.delay * 2 if self.delay else self.initial)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


class TaskLoop(Worker):
    """django-tasks-db's worker loop, telling us when a round got through: its loop reads
    ``running`` at the top of each round and again after the round's query, so a second read
    since (re)starting means the database answered."""

    def __init__(self, *, on_round: Any, **options: Any) -> None:
        self.on_round = on_round
        self.reads = 0
        super().__init__(**options)

    @property
    def running(self) -> bool:
        self.reads += 1
        if self.reads == 2:
            self.on_round()
        return self._running

    @running.setter
    def running(self, value: bool) -> None:
        self._running = value

    def run(self) -> None:
        self.reads = 0
        super().run()


def default_name() -> str:
    return (settings.WORKER_NAME or socket.gethostname() or "worker")[:100]


class Supervisor:
    def __init__(
        self,
        *,
        name: str = "",
        queue: str = "*",
        interval: float = 1.0,
        batch: bool = False,
        max_tasks: int | None = None,
        requeue_after: timedelta = timedelta(seconds=900),
        skip: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name or default_name()
        self.batch = batch
        self.requeue_after = requeue_after
        self.skip = skip
        self.stop = threading.Event()
        self.started_at = timezone.now()
        self.parts: dict[str, dict[str, Any]] = {}
        self.parts_lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.signals = 0
        self.tasks = TaskLoop(
            on_round=lambda: self._report(TASKS, ok=True),
            queue_names=queue.split(","),
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )

    # -- running ------------------------------------------------------------------------------

    def run(self) -> None:
        self._install_signals()
        self._guarded(REQUEUE, self._requeue)
        if self.batch:
            self._run_tasks()
            for job in jobs.periodic_jobs():
                if job.batch and job.name not in self.skip:
                    self._guarded(job.name, job.call)
            for loop in jobs.worker_loops():
                if loop.once and loop.name not in self.skip:
                    self._guarded(loop.name, loop.call_once)
            return
        self._start(HEARTBEAT, self._heartbeat_loop)
        period = max(1.0, min(30.0, self.requeue_after.total_seconds() / 2))
        self._start(REQUEUE, self._every, REQUEUE, self._requeue, period)
        for job in jobs.periodic_jobs():
            if job.name not in self.skip:
                self._start(job.name, self._every, job.name, job.call, job.seconds)
        for loop in jobs.worker_loops():
            if loop.name not in self.skip:
                self._start(loop.name, self._supervise_loop, loop)
        try:
            self._run_tasks()
        finally:
            self.stop.set()
            self.tasks.running = False
            for thread in self.threads:
                thread.join(timeout=15)
            self._beat(stopped=True)
            connections.close_all()

    def request_stop(self) -> None:
        self.stop.set()
        self.tasks.running = False

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # called in-process (tests): whoever called us handles signals

        def on_signal(signum: int, frame: Any) -> None:
            self.signals += 1
            if self.signals > 1:
                logger.warning("second %s: stopping at once", signal.strsignal(signum))
                os._exit(1)
            logger.warning("%s: stopping gracefully", signal.strsignal(signum))
            self.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _start(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    # -- the task queue -----------------------------------------------------------------------

    def _run_tasks(self) -> None:
        """django-tasks-db's loop, restarted after whatever it raises until we stop. It returns
        by itself only in batch mode (queue empty) or after --max-tasks."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                self.tasks.run()
            except Exception as exc:
                self._failed(TASKS, exc, backoff)
                self.stop.wait(backoff.delay)
                continue
            if self.tasks.running:  # batch done or max tasks reached, not a stop
                self._report(TASKS, ok=True)
            return

    # -- loops and periodic jobs --------------------------------------------------------------

    def _supervise_loop(self, loop: jobs.Loop) -> None:
        backoff = Backoff()
        try:
            while not self.stop.is_set():
                self._report(loop.name, ok=True)
                try:
                    loop.target()(self.stop)
                except Exception as exc:
                    self._failed(loop.name, exc, backoff)
                else:
                    if self.stop.is_set():
                        return
                    self._failed(loop.name, RuntimeError("the loop returned"), backoff)
                close_old_connections()
                self.stop.wait(backoff.delay)
        finally:
            connections.close_all()

    def _every(self, name: str, function: Any, seconds: float) -> None:
        try:
            while not self.stop.wait(seconds):
                self._guarded(name, function)
        finally:
            connections.close_all()

    def _guarded(self, name: str, function: Any) -> None:
        try:
            function()
        except Exception as exc:
            self._failed(name, exc, None)
        else:
            self._report(name, ok=True)
        finally:
            close_old_connections()

    def _requeue(self) -> None:
        count = requeue_abandoned_tasks(older_than=self.requeue_after)
        if count:
            logger.warning("requeued %d task(s) abandoned by a dead worker", count)

    # -- state and heartbeat ------------------------------------------------------------------

    def _failed(self, name: str, exc: BaseException, backoff: Backoff | None) -> None:
        first = self.parts.get(name, {}).get("ok", True)
        wait = backoff.next() if backoff is not None else None
        again = f"; again in {wait:.1f} s" if wait is not None else "; again at its next round"
        if first:
            logger.exception("%s failed%s", name, again)
        else:
            logger.warning("%s still failing (%s)%s", name, exc, again)
        close_old_connections()
        self._report(name, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])

    def _report(self, name: str, *, ok: bool, error: str = "") -> None:
        with self.parts_lock:
            part = self.parts.setdefault(name, {"failures": 0})
            part.update(ok=ok, at=timezone.now().isoformat(), error=error)
            if ok:
                part["failures"] = 0
            else:
                part["failures"] += 1

    def _heartbeat_loop(self) -> None:
        backoff = Backoff()
        try:
            while True:
                try:
                    self._beat()
                    backoff.reset()
                    wait = float(settings.WORKER_HEARTBEAT_SECONDS)
                except Exception as exc:
                    self._failed(HEARTBEAT, exc, backoff)
                    wait = min(backoff.delay, float(settings.WORKER_HEARTBEAT_SECONDS))
                finally:
                    close_old_connections()
                if self.stop.wait(wait):
                    return
        finally:
            connections.close_all()

    def _beat(self, *, stopped: bool = False) -> None:
        now = timezone.now()
        with self.parts_lock:
            parts = {name: dict(part) for name, part in self.parts.items()}
        try:
            WorkerHeartbeat.objects.update_or_create(
                name=self.name,
                defaults={
                    "host": socket.gethostname()[:255],
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "beat_at": now,
                    "stopped_at": now if stopped else None,
                    "parts": parts,
                },
            )
        except Exception:
            if not stopped:
                raise
            logger.warning("could not record that worker %s stopped", self.name)

"""``siaga worker``: runs background tasks from the database queue (django-tasks-db) and
delivers the notification outbox (siaga.notify)."""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from siaga.core.services import requeue_abandoned_tasks

logger = logging.getLogger("siaga.worker")


class Command(BaseCommand):
    help = "Run a background worker. Run several, on one machine or many: none runs a task twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", default="*", help="queue names, comma-separated (* = all)")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--batch", action="store_true", help="run the waiting tasks, then exit")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument(
            "--requeue-after",
            type=float,
            default=900.0,
            help="seconds after which a task left RUNNING by a dead worker is queued again "
            "(default: 900)",
        )
        parser.add_argument(
            "--deliveries",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="deliver the notification outbox beside the tasks (default: yes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from siaga.ledger.rollback import check_at_start

        rolled_back = check_at_start()  # a database put back behind the kept checkpoint: an alarm
        if rolled_back is not None:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}; writes are refused.")
        older_than = timedelta(seconds=options["requeue_after"])
        self._requeue(older_than)
        stop = threading.Event()
        if not options["batch"]:
            watcher = threading.Thread(
                target=self._watch, args=(older_than, stop), name="requeue", daemon=True
            )
            watcher.start()
        if not options["batch"]:
            sweeper = threading.Thread(
                target=self._sweep, args=(stop,), name="escalation", daemon=True
            )
            sweeper.start()
        delivery = None
        if options["deliveries"] and not options["batch"]:
            delivery = threading.Thread(
                target=self._deliver, args=(stop,), name="notify-delivery", daemon=True
            )
            delivery.start()
        worker_options: dict[str, Any] = {
            "queue_name": options["queue"],
            "interval": options["interval"],
            "batch": options["batch"],
            "reload": False,
            "startup_delay": False,
            "verbosity": options["verbosity"],
        }
        if options["max_tasks"]:
            worker_options["max_tasks"] = options["max_tasks"]
        try:
            call_command("db_worker", **worker_options)
            if options["batch"]:
                self._sweep_once()
            if options["deliveries"] and options["batch"]:
                self._deliver_once()
        finally:
            stop.set()
            if delivery is not None:
                delivery.join(timeout=10)

    def _requeue(self, older_than: timedelta) -> None:
        count = requeue_abandoned_tasks(older_than=older_than)
        if count:
            logger.warning("requeued %d task(s) abandoned by a dead worker", count)

    def _deliver(self, stop: threading.Event) -> None:
        """The outbox loop: polls often, wakes on this process's commits, sends concurrently."""
        from siaga.notify.delivery import DeliveryLoop

        DeliveryLoop().run(stop)

    def _deliver_once(self) -> None:
        """--batch: deliver what is due now (retries that fall due meanwhile too), then stop."""
        from siaga.notify.services import deliver_due

        try:
            while deliver_due(limit=100):
                pass
        finally:
            close_old_connections()

    def _sweep(self, stop: threading.Event) -> None:
        """Escalations and alarm reminders: each due one is taken under a row lock, so two
        workers never escalate the same incident twice."""
        while not stop.wait(settings.ESCALATION_SWEEP_SECONDS):
            self._sweep_once()

    def _sweep_once(self) -> None:
        from siaga.access.services import sweep as gate_sweep
        from siaga.alarms.services import remind_due_alarms
        from siaga.incidents.services import escalate_due

        try:
            escalate_due()
            remind_due_alarms()
            gate_sweep()
        except Exception:
            logger.exception("escalation sweep failed; trying again later")
        finally:
            close_old_connections()

    def _watch(self, older_than: timedelta, stop: threading.Event) -> None:
        """Housekeeping beside the task loop: requeue abandoned tasks, sign checkpoints, look
        for a database put back behind the kept checkpoint."""
        from siaga.ledger.rollback import detect
        from siaga.ledger.services import checkpoint_if_due

        period = max(1.0, min(30.0, older_than.total_seconds() / 2))
        while not stop.wait(period):
            try:
                self._requeue(older_than)
                if detect() is not None:
                    continue
                checkpoint_if_due(timedelta(seconds=settings.LEDGER_CHECKPOINT_SECONDS))
            except Exception:
                logger.exception("worker housekeeping failed; trying again later")
            finally:
                close_old_connections()

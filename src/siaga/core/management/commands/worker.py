"""``siaga worker``: runs background tasks from the database queue (django-tasks-db)."""

from __future__ import annotations

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

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = timedelta(seconds=options["requeue_after"])
        self._requeue(older_than)
        stop = threading.Event()
        if not options["batch"]:
            watcher = threading.Thread(
                target=self._watch, args=(older_than, stop), name="requeue", daemon=True
            )
            watcher.start()
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
        finally:
            stop.set()

    def _requeue(self, older_than: timedelta) -> None:
        count = requeue_abandoned_tasks(older_than=older_than)
        if count:
            logger.warning("requeued %d task(s) abandoned by a dead worker", count)

    def _watch(self, older_than: timedelta, stop: threading.Event) -> None:
        """Housekeeping beside the task loop: requeue abandoned tasks, sign checkpoints."""
        from siaga.ledger.services import checkpoint_if_due

        period = max(1.0, min(30.0, older_than.total_seconds() / 2))
        while not stop.wait(period):
            try:
                self._requeue(older_than)
                checkpoint_if_due(timedelta(seconds=settings.LEDGER_CHECKPOINT_SECONDS))
            except Exception:
                logger.exception("worker housekeeping failed; trying again later")
            finally:
                close_old_connections()

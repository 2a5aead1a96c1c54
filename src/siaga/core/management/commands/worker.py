"""``siaga worker``: runs background tasks from the database queue (django-tasks-db) and what
each app declares for it — loops such as the notification outbox's delivery, periodic jobs such
as escalations and checkpoints (``siaga.core.jobs``) — and outlives database restarts
(``siaga.core.supervisor``)."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from siaga.core import jobs
from siaga.core.supervisor import Supervisor

DELIVERY = "notify.delivery"


class Command(BaseCommand):
    help = "Run a background worker. Run several, on one machine or many: none runs a task twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", default="*", help="queue names, comma-separated (* = all)")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--batch", action="store_true", help="run the waiting tasks, then exit")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument(
            "--name",
            default="",
            help="this worker's name in its heartbeat (default: SIAGA_WORKER_NAME, else the "
            "host's name); give each worker on one host its own",
        )
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
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            metavar="JOB",
            help="a loop or periodic job not to run here (repeatable); --list shows them",
        )
        parser.add_argument(
            "--list", action="store_true", help="list the loops and periodic jobs, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for loop in jobs.worker_loops():
                self.stdout.write(f"loop      {loop.name:24} {loop.run}")
            for job in jobs.periodic_jobs():
                every = job.every if isinstance(job.every, str) else f"{job.every:g} s"
                self.stdout.write(f"periodic  {job.name:24} {job.func} every {every}")
            return
        level = {0: logging.ERROR, 1: logging.WARNING}.get(options["verbosity"], logging.INFO)
        logging.getLogger("siaga.worker").setLevel(level)
        skip = set(options["skip"])
        if not options["deliveries"]:
            skip.add(DELIVERY)
        known = {loop.name for loop in jobs.worker_loops()}
        known |= {job.name for job in jobs.periodic_jobs()}
        unknown = sorted(skip - known - {DELIVERY})
        if unknown:
            self.stderr.write(f"siaga worker: no loop or job named {', '.join(unknown)}")
            raise SystemExit(2)
        if options["max_tasks"] is not None and options["max_tasks"] < 1:
            self.stderr.write("siaga worker: --max-tasks must be at least 1")
            raise SystemExit(2)
        from siaga.ledger.rollback import check_at_start

        rolled_back = check_at_start()  # a database put back behind the kept checkpoint: alarm
        if rolled_back is not None:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}; writes are refused.")
        Supervisor(
            name=options["name"],
            queue=options["queue"],
            interval=options["interval"],
            batch=options["batch"],
            max_tasks=options["max_tasks"],
            requeue_after=timedelta(seconds=options["requeue_after"]),
            skip=frozenset(skip),
        ).run()

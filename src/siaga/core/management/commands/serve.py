"""``siaga serve``: the production web server with SIAGA's application.

gunicorn (gthread workers) by default; ``--server granian`` (or ``SIAGA_WEB_SERVER=granian``)
runs the same WSGI application under granian, whose HTTP side is written in Rust.
``bench/request_path.py`` measures the two in one run (docs/operations.md has its figures).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections
from gunicorn.app.base import BaseApplication


class SiagaServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from siaga.wsgi import application

        return application


class Command(BaseCommand):
    help = "Run the SIAGA web server (gunicorn or granian; static files served by WhiteNoise)."
    # The checks load the URLs and with them prometheus_client, which reads
    # PROMETHEUS_MULTIPROC_DIR once, when imported: handle() sets it first, then checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=min(4, multiprocessing.cpu_count() * 2 + 1),
            help="web worker processes (default: 2 × cores + 1, at most 4)",
        )
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument(
            "--server",
            choices=["gunicorn", "granian"],
            default=settings.WEB_SERVER,
            help="the HTTP server (default: SIAGA_WEB_SERVER, else gunicorn)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._metrics_directory()
        self.check()
        from siaga.ledger.rollback import check_at_start

        rolled_back = check_at_start()  # before the web workers fork: one alarm, not one each
        if rolled_back is not None:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}; writes are refused.")
        connections.close_all()  # the forked web workers open their own
        bind = f"[{options['host']}]" if ":" in options["host"] else options["host"]
        if options["server"] == "granian":
            self._granian(options)
            return
        SiagaServer(
            {
                "bind": f"{bind}:{options['port']}",
                "workers": options["workers"],
                "threads": options["threads"],
                "worker_class": "gthread",
                "timeout": 60,
                "graceful_timeout": 10,
                # In JSON logs SIAGA writes the request line itself (siaga.core.logs), with
                # the request's and the user's id and the path without its query string.
                "accesslog": "-" if settings.LOG_FORMAT == "plain" else None,
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "siaga-web",
                "child_exit": _child_exit,
            }
        ).run()

    def _granian(self, options: dict[str, Any]) -> None:
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "siaga.wsgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.WSGI,
            workers=options["workers"],
            blocking_threads=options["threads"],
            # A worker that dies is started again, as gunicorn's arbiter does.
            respawn_failed_workers=True,
            # As gunicorn's graceful_timeout: a worker still busy after 10 s is killed.
            workers_kill_timeout=10,
            log_access=settings.LOG_FORMAT == "plain",
            websockets=False,
        ).serve()

    def _metrics_directory(self) -> None:
        """Each web process writes its request metrics to files in SIAGA_METRICS_DIR (in
        memory by default); /metrics adds them up. Emptied at start: samples of processes
        from an earlier run are not this run's."""
        if "prometheus_client" in sys.modules and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.stderr.write(
                "siaga serve: metrics are per process (prometheus_client loaded early)"
            )
            return
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(settings.METRICS_DIR)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

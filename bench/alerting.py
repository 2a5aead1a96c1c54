"""Alerting latency: from an incident created through the API to the webhook receiver holding
its notification, with one `siaga worker`, at a steady rate of incidents per second.

    .venv/bin/python bench/alerting.py [--rate 50] [--seconds 20]
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/alerting.py

Real processes: `siaga serve` (gunicorn) answers the API, one `siaga worker` delivers the
outbox, and a webhook receiver on 127.0.0.1 records when each signed request arrives. The
database is a fresh SQLite one under a temporary SIAGA_HOME, or the one SIAGA_DATABASE_URL
names, which is emptied first (never point it at real data).

Targets (issue #4): p50 under 200 ms and p99 under 1 s, at 50 incidents per second.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver(ThreadingHTTPServer):
    """Checks each signature, keeps the first arrival per Idempotency-Key. It runs in a process
    of its own (``serve_receiver``), so the bench's sending threads cannot delay its clock."""

    daemon_threads = True

    def __init__(self, secret: str, port: int) -> None:
        super().__init__(("127.0.0.1", port), ReceiverHandler)
        self.secret = secret
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()


def serve_receiver(port: int, secret: str, conn: Any) -> None:
    """The receiver's process: serves, and answers the bench's "snapshot" and "stop"."""
    server = Receiver(secret, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send("ready")
    while conn.recv() != "stop":
        with server.lock:
            conn.send((dict(server.arrivals), server.duplicates, server.bad_signatures))
    server.shutdown()


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        timestamp = self.headers.get("X-Siaga-Timestamp", "")
        expected = hmac.new(
            self.server.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        signature = self.headers.get("X-Siaga-Signature", "")
        self.send_response(200)
        self.end_headers()
        with self.server.lock:
            if not hmac.compare_digest(signature, f"v1={expected}"):
                self.server.bad_signatures += 1
                return
            incident = json.loads(body)["data"].get("incident", "")
            if incident in self.server.arrivals:
                self.server.duplicates += 1
            else:
                self.server.arrivals[incident] = arrived

    def log_message(self, format: str, *args: Any) -> None:
        pass


def setup(home: Path) -> tuple[str, str, dict[str, str]]:
    """A migrated database with OKU Timur, a guard with a token, a warehouse, and the Polres
    command centre's webhook. Returns (token, site id, environment for the processes)."""
    os.environ["SIAGA_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    from siaga.accounts.choices import AgencyKind, Role
    from siaga.accounts.models import Agency, AgencyUnit, User
    from siaga.accounts.services import add_membership, issue_api_token
    from siaga.regions.services import load_regions
    from siaga.sites.choices import SiteKind
    from siaga.sites.models import Site

    load_regions()
    polri = Agency.objects.create(kind=AgencyKind.POLRI, name="Polri")
    kpu = Agency.objects.create(kind=AgencyKind.KPU, name="KPU")
    polres = AgencyUnit.objects.create(agency=polri, region_id="16.08", name="Polres OKU Timur")
    kpu_unit = AgencyUnit.objects.create(agency=kpu, region_id="16.08", name="KPU OKU Timur")
    guard = User.objects.create(username="jaga.okut")
    add_membership(actor=None, user=guard, unit=polres, role=Role.GUARD)
    admin = User.objects.create(username="admin.okut")
    add_membership(actor=None, user=admin, unit=polres, role=Role.ADMIN)
    site = Site.objects.create(
        code="GUDANG-16.08",
        name="Gudang Logistik KPU OKU Timur",
        kind=SiteKind.WAREHOUSE,
        region_id="16.08.01.1008",
        owner_unit=kpu_unit,
    )
    _token, raw = issue_api_token(actor=guard, name="bench")
    environment = dict(os.environ)
    environment["SIAGA_HOME"] = str(home)
    environment["SIAGA_NOTIFY_POLL_SECONDS"] = environment.get("SIAGA_NOTIFY_POLL_SECONDS", "0.05")
    return raw, str(site.pk), environment


def add_webhook(url: str) -> str:
    from siaga.accounts.models import AgencyUnit, User
    from siaga.notify.services import add_endpoint

    admin = User.objects.get(username="admin.okut")
    polres = AgencyUnit.objects.get(name="Polres OKU Timur")
    return add_endpoint(actor=admin, channel="webhook", address=url, unit_id=polres.pk).obj.secret


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def report(base: str, token: str, site: str) -> tuple[str, float, float, int]:
    """POST one incident (multipart, as the phone page sends it); returns its id, when the
    request started, how long the API took, and the status."""
    incident = str(uuid.uuid4())
    boundary = uuid.uuid4().hex
    fields = {
        "id": incident,
        "category": "banjir",
        "severity": "2",
        "site": site,
        "description": "Atap bocor di Gudang B",
    }
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(  # noqa: S310 - local
        f"{base}/api/v1/incidents",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return incident, started, time.monotonic() - started, status


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0, help="incidents per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--web-workers", type=int, default=4)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-alerting-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        token, site, environment = setup(home)
        receiver_port = free_port()
        secret = add_webhook(f"http://127.0.0.1:{receiver_port}/siaga")
        receiver, child = multiprocessing.get_context("spawn").Pipe()
        receiver_process = multiprocessing.get_context("spawn").Process(
            target=serve_receiver, args=(receiver_port, secret, child), daemon=True
        )
        receiver_process.start()
        assert receiver.recv() == "ready"
        from django.db import connection

        vendor = connection.vendor
        connection.close()
        port = free_port()
        cli = [sys.executable, "-m", "siaga.cli"]
        processes.append(
            subprocess.Popen(
                [*cli, "serve", "--port", str(port), "--workers", str(args.web_workers)],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        processes.append(subprocess.Popen([*cli, "worker", "--verbosity", "0"], env=environment))
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        for _ in range(5):  # warm the web processes
            report(base, token, site)
        time.sleep(2)
        total = int(args.rate * args.seconds)
        sent: dict[str, float] = {}
        api_times: list[float] = []
        statuses: dict[int, int] = {}
        began = time.perf_counter()

        def paced(n: int) -> None:
            delay = began + n / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            incident, started, took, status = report(base, token, site)
            sent[incident] = started
            api_times.append(took)
            statuses[status] = statuses.get(status, 0) + 1

        with ThreadPoolExecutor(max_workers=64) as pool:
            list(pool.map(paced, range(total)))
        offered = total / (time.perf_counter() - began)
        deadline = time.monotonic() + 30
        while True:
            receiver.send("snapshot")
            arrivals, duplicates, bad_signatures = receiver.recv()
            if set(sent) <= set(arrivals) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        receiver.send("stop")
        latencies = [arrivals[i] - t for i, t in sent.items() if i in arrivals]
        missing = len(sent) - len(latencies)
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        print(
            f"[{vendor}] {total} incidents through the API at {offered:.1f}/s "
            f"(asked {args.rate:.0f}/s), one worker, {args.web_workers} web processes"
        )
        print(
            f"  API answers: {statuses}; p50 {statistics.median(api_times) * 1000:.0f} ms, "
            f"p95 {percentile(api_times, 0.95) * 1000:.0f} ms, p99 "
            f"{percentile(api_times, 0.99) * 1000:.0f} ms, max {max(api_times) * 1000:.0f} ms"
        )
        print(
            f"  API call -> webhook received: p50 {p50 * 1000:.0f} ms, p90 "
            f"{percentile(latencies, 0.90) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
            f"{max(latencies) * 1000:.0f} ms"
        )
        print(
            f"  delivered {len(latencies)}/{len(sent)} (missing {missing}), duplicates "
            f"{duplicates}, bad signatures {bad_signatures}"
        )
        met = p50 < 0.2 and p99 < 1.0 and missing == 0 and offered >= 0.95 * args.rate
        print(
            f"  target p50 < 200 ms, p99 < 1000 ms at {args.rate:.0f}/s: "
            f"{'met' if met else 'MISSED'}"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()

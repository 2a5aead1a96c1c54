"""Alerting latency: from an incident created through the API to the webhook receiver holding
its notification, with one `siaga worker`, at a steady rate of incidents per second — first
with the healthy receiver alone, then, in the same run, with a hanging neighbour: a second
webhook of the same region (so every incident is sent to both) whose server on 127.0.0.1
answers only after 60 s (the webhook's timeout is 5 s).

    .venv/bin/python bench/alerting.py [--rate 50] [--seconds 20] [--hang-seconds 60]
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/alerting.py

Real processes: `siaga serve` (gunicorn) answers the API, one `siaga worker` delivers the
outbox, and a webhook receiver on 127.0.0.1 records when each signed request arrives. The
database is a fresh SQLite one under a temporary SIAGA_HOME, or the one SIAGA_DATABASE_URL
names, which is emptied first (never point it at real data).

Targets (issue #4): p50 under 200 ms and p99 under 1 s, at 50 incidents per second; with the
hanging neighbour, the healthy receiver's p99 within 2x of its p99 alone.
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
from dataclasses import dataclass
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


class Hanging(ThreadingHTTPServer):
    """The neighbour that hangs: reads each request, answers after ``hang`` seconds."""

    daemon_threads = True

    def __init__(self, port: int, hang: float) -> None:
        super().__init__(("127.0.0.1", port), HangingHandler)
        self.hang = hang
        self.requests = 0
        self.current = 0
        self.peak = 0
        self.lock = threading.Lock()


class HangingHandler(BaseHTTPRequestHandler):
    server: Hanging

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.requests += 1
            self.server.current += 1
            self.server.peak = max(self.server.peak, self.server.current)
        time.sleep(self.server.hang)
        with self.server.lock:
            self.server.current -= 1
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass  # the sender gave up long ago

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_hanging(port: int, hang: float, conn: Any) -> None:
    server = Hanging(port, hang)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send("ready")
    while conn.recv() != "stop":
        with server.lock:
            conn.send((server.requests, server.peak))


def setup(home: Path) -> tuple[str, str, dict[str, str]]:
    """A migrated database with OKU Timur, a guard with a token, a warehouse, and the Polres
    command centre's webhook. Returns (token, site id, environment for the processes)."""
    os.environ["SIAGA_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    # The receivers are on 127.0.0.1, which webhooks may reach only when allowed.
    os.environ["SIAGA_NOTIFY_WEBHOOK_ALLOW_PRIVATE"] = "true"
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


def add_webhook(url: str, unit: str = "Polres OKU Timur") -> str:
    from siaga.accounts.models import AgencyUnit, User
    from siaga.notify.services import add_endpoint

    admin = User.objects.get(username="admin.okut")
    owner = AgencyUnit.objects.get(name=unit)
    return add_endpoint(actor=admin, channel="webhook", address=url, unit_id=owner.pk).obj.secret


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


@dataclass
class Phase:
    name: str
    sent: dict[str, float]
    api_times: list[float]
    statuses: dict[int, int]
    offered: float


def load(name: str, base: str, token: str, site: str, rate: float, seconds: float) -> Phase:
    """Incidents through the API at a steady ``rate`` for ``seconds``."""
    total = int(rate * seconds)
    sent: dict[str, float] = {}
    api_times: list[float] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()

    def paced(n: int) -> None:
        delay = began + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        incident, started, took, status = report(base, token, site)
        sent[incident] = started
        api_times.append(took)
        statuses[status] = statuses.get(status, 0) + 1

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(paced, range(total)))
    return Phase(name, sent, api_times, statuses, total / (time.perf_counter() - began))


def arrivals_of(receiver: Any, sent: dict[str, float]) -> tuple[dict[str, float], int, int]:
    deadline = time.monotonic() + 30
    while True:
        receiver.send("snapshot")
        arrivals, duplicates, bad_signatures = receiver.recv()
        if set(sent) <= set(arrivals) or time.monotonic() > deadline:
            return arrivals, duplicates, bad_signatures
        time.sleep(0.1)


def summarize(phase: Phase, receiver: Any, rate: float) -> tuple[float, float, bool]:
    """Prints the phase's figures; returns the healthy receiver's p50 and p99 and whether the
    latency target was met."""
    arrivals, duplicates, bad_signatures = arrivals_of(receiver, phase.sent)
    latencies = [arrivals[i] - t for i, t in phase.sent.items() if i in arrivals]
    missing = len(phase.sent) - len(latencies)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    api = phase.api_times
    print(
        f"  {phase.name}: {len(phase.sent)} incidents at {phase.offered:.1f}/s (asked {rate:.0f}/s)"
    )
    print(
        f"    API answers: {phase.statuses}; p50 {statistics.median(api) * 1000:.0f} ms, "
        f"p95 {percentile(api, 0.95) * 1000:.0f} ms, p99 {percentile(api, 0.99) * 1000:.0f} ms, "
        f"max {max(api) * 1000:.0f} ms"
    )
    print(
        f"    API call -> healthy webhook received: p50 {p50 * 1000:.0f} ms, p90 "
        f"{percentile(latencies, 0.90) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{max(latencies) * 1000:.0f} ms"
    )
    print(
        f"    delivered {len(latencies)}/{len(phase.sent)} (missing {missing}), duplicates "
        f"{duplicates} (whole run), bad signatures {bad_signatures}"
    )
    met = p50 < 0.2 and p99 < 1.0 and missing == 0 and phase.offered >= 0.95 * rate
    return p50, p99, met


def circuits() -> list[str]:
    from django.db import connection

    try:
        from siaga.notify.models import Circuit
    except ImportError:  # code from before circuit breakers (PYTHONPATH=<old checkout>/src)
        return ["(no circuit breakers in this code)"]
    rows = [
        f"{c.key} {c.state()}, {c.failures} consecutive failure(s)" for c in Circuit.objects.all()
    ]
    connection.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0, help="incidents per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument(
        "--hang-seconds", type=float, default=60.0, help="the neighbour answers after this"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-alerting-"))
    processes: list[subprocess.Popen[bytes]] = []
    spawn = multiprocessing.get_context("spawn")
    try:
        token, site, environment = setup(home)
        receiver_port = free_port()
        secret = add_webhook(f"http://127.0.0.1:{receiver_port}/siaga")
        receiver, child = spawn.Pipe()
        spawn.Process(
            target=serve_receiver, args=(receiver_port, secret, child), daemon=True
        ).start()
        assert receiver.recv() == "ready"
        hanging_port = free_port()
        hanging, hanging_child = spawn.Pipe()
        spawn.Process(
            target=serve_hanging, args=(hanging_port, args.hang_seconds, hanging_child), daemon=True
        ).start()
        assert hanging.recv() == "ready"
        from django.conf import settings
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
        fairness = (
            f"{settings.NOTIFY_ENDPOINT_CONCURRENCY} per receiver; breaker after "
            f"{settings.NOTIFY_BREAKER_FAILURES} failures, "
            f"{settings.NOTIFY_BREAKER_COOLDOWN_SECONDS:g} s cool-down"
            if hasattr(settings, "NOTIFY_ENDPOINT_CONCURRENCY")
            else "no per-receiver limit, no breaker"
        )
        print(
            f"[{vendor}] one worker ({settings.NOTIFY_CONCURRENCY} send threads, {fairness}), "
            f"{args.web_workers} web processes"
        )
        alone = load("no neighbour", base, token, site, args.rate, args.seconds)
        p50_alone, p99_alone, met_alone = summarize(alone, receiver, args.rate)

        # The neighbour: KPU OKU Timur's webhook, on a server that hangs. From now on every
        # incident is sent to both receivers.
        add_webhook(f"http://127.0.0.1:{hanging_port}/siaga", unit="KPU OKU Timur")
        connection.close()
        beside = load(
            f"with a neighbour answering after {args.hang_seconds:g} s",
            base,
            token,
            site,
            args.rate,
            args.seconds,
        )
        p50_beside, p99_beside, met_beside = summarize(beside, receiver, args.rate)
        hanging.send("snapshot")
        hung_requests, hung_peak = hanging.recv()
        hanging.send("stop")
        receiver.send("stop")
        print(
            f"    the hanging neighbour got {hung_requests} request(s) for {len(beside.sent)} "
            f"notifications, at most {hung_peak} open at once (those the worker gave up on "
            f"after its timeout included); circuits: {circuits() or 'none'}"
        )
        ratio = p99_beside / p99_alone if p99_alone else float("inf")
        print(
            f"  healthy receiver's p99 with the hanging neighbour / alone: "
            f"{p99_beside * 1000:.0f} ms / {p99_alone * 1000:.0f} ms = {ratio:.2f}x "
            f"(p50 {p50_beside * 1000:.0f} ms / {p50_alone * 1000:.0f} ms)"
        )
        print(
            f"  target p50 < 200 ms, p99 < 1000 ms at {args.rate:.0f}/s: alone "
            f"{'met' if met_alone else 'MISSED'}, with the neighbour "
            f"{'met' if met_beside else 'MISSED'}; p99 within 2x: "
            f"{'met' if ratio <= 2.0 else 'MISSED'}"
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

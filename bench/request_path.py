"""The request path: what one authenticated request costs the server, under gunicorn and under
granian, measured in the same run.

    .venv/bin/python bench/request_path.py [--seconds 8] [--clients 20] [--rounds 2]
    .venv/bin/python bench/request_path.py --servers gunicorn      # one of them only
    .venv/bin/python bench/request_path.py --in-process-only       # the application alone
    .venv/bin/python bench/request_path.py --servers gunicorn --synchronous FULL,NORMAL

The world is bench/gate.py's (a fresh SQLite database under a temporary SIAGA_HOME, or the one
SIAGA_DATABASE_URL names, emptied first): the OKU Timur warehouse, a guard with an API token
and ``--people`` holders of standing passes. For each server in turn (``--rounds`` alternates
them, so that a neighbour's load falls on both alike), ``siaga serve --server NAME`` with the
same workers and threads answers two closed-loop phases: GET /api/v1/auth/me (the trivial
authenticated endpoint) and POST /api/v1/gate/check-in (each request another person, a new
client id; every answer must be 201). Each phase prints the server's CPU time per request (the
server process and its children, from /proc), which moves little with other load, beside
throughput and latency.

First, unmeasured by any server, the application alone: the same two requests through Django's
WSGI handler in this process (``--in-process`` requests each), the floor that no HTTP server
can go under.

``--synchronous FULL,NORMAL`` alternates SQLite's synchronous setting too (each server started
with SIAGA_SQLITE_SYNCHRONOUS), so the price of durable commits is measured in one run.

Targets (issue #23): auth/me at most 2.5 ms of server CPU; check-in throughput at least 0.6 of
auth/me's in the same run.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate import Request, Result, free_port, hammer, setup, taker, wait_for

TARGET_CPU_MS = 2.5
TARGET_RATIO = 0.6


def in_process(token: str, badges: list[str], zone: str, count: int) -> tuple[float, float]:
    """CPU milliseconds per auth/me and per check-in through the WSGI handler, no server."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()

    def call(method: str, path: str, body: bytes = b"") -> int:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        answered: list[int] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            answered.append(int(status[:3]))
            return lambda data: None

        b"".join(handler(environ, start_response))
        return answered[0]

    for _ in range(50):
        assert call("GET", "/api/v1/auth/me") == 200
    started = time.process_time()
    for _ in range(count):
        call("GET", "/api/v1/auth/me")
    me = (time.process_time() - started) / count * 1000
    import json

    started = time.process_time()
    for badge in badges:
        body = json.dumps({"id": str(uuid.uuid4()), "badge": badge, "zone": zone}).encode()
        status = call("POST", "/api/v1/gate/check-in", body)
        assert status == 201, status
    checkin = (time.process_time() - started) / len(badges) * 1000
    connection.close()
    return me, checkin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load per phase")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the servers this often")
    parser.add_argument("--people", type=int, default=6000, help="pass holders (one check-in each)")
    parser.add_argument("--workers", type=int, default=2, help="web processes of each server")
    parser.add_argument("--threads", type=int, default=4, help="threads per web process")
    parser.add_argument("--servers", default="gunicorn,granian", help="comma-separated")
    parser.add_argument(
        "--synchronous",
        default="FULL",
        help="SQLite's synchronous settings to alternate, comma-separated (FULL,NORMAL)",
    )
    parser.add_argument("--in-process", type=int, default=1000, help="auth/me calls in process")
    parser.add_argument("--in-process-only", action="store_true")
    args = parser.parse_args()
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    modes = [mode.strip().upper() for mode in args.synchronous.split(",") if mode.strip()]
    # Each arrangement: a server under one synchronous setting ("gunicorn" alone when one).
    servers = [f"{n}/{m}" if len(modes) > 1 else n for n in names for m in modes]
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-path-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        world = setup(home, args.people)
        print(
            f"[{world.vendor}] set-up: regions, 1 site, {args.people} standing passes in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        take = taker(world.badges)
        spare = [take() for _ in range(min(300, args.people // 10))]
        me_ms, checkin_ms = in_process(world.token, spare, world.zone, args.in_process)
        print(
            f"  in process (WSGI handler, no server): auth/me {me_ms:.2f} ms CPU, "
            f"check-in {checkin_ms:.2f} ms CPU (a server short of CPU reaches at most "
            f"{me_ms / checkin_ms:.2f})"
        )
        if args.in_process_only:
            return

        def me() -> Request:
            return ("GET", "/api/v1/auth/me", None, None)

        def check_in() -> Request | None:
            badge = take()
            if badge is None:
                return None
            body = {"id": str(uuid.uuid4()), "badge": badge, "zone": world.zone}
            return ("POST", "/api/v1/gate/check-in", body, body)

        print(
            f"  each server: {args.workers} processes x {args.threads} threads; {args.clients} "
            f"clients on keep-alive connections; {args.warmup:g} s warm-up + {args.seconds:g} s "
            f"measured per phase; {args.rounds} round(s), servers alternating"
        )
        measured: dict[str, list[tuple[Result, Result]]] = {name: [] for name in servers}
        for _round in range(args.rounds):
            for name in servers:
                server_name, _, mode = name.partition("/")
                environment = dict(world.environment)
                if mode:
                    environment["SIAGA_SQLITE_SYNCHRONOUS"] = mode
                port = free_port()
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "siaga.cli",
                        "serve",
                        "--server",
                        server_name,
                        "--port",
                        str(port),
                        "--workers",
                        str(args.workers),
                        "--threads",
                        str(args.threads),
                    ],
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wait_for(f"http://127.0.0.1:{port}/healthz")
                run = (process.pid, port, world.token, args.clients)
                hammer("warm-up", *run, args.warmup, me)
                trivial = hammer("auth/me", *run, args.seconds, me)
                hammer("warm-up", *run, args.warmup, check_in)
                checkins = hammer("check-in", *run, args.seconds, check_in)
                process.terminate()
                process.wait(timeout=30)
                process = None
                for result in (trivial, checkins):
                    if set(result.statuses) != {200 if result is trivial else 201}:
                        raise SystemExit(f"{name} {result.name}: answers {dict(result.statuses)}")
                measured[name].append((trivial, checkins))
        print(f"  load average after the phases: {os.getloadavg()[0]:.1f}\n")
        per_me: dict[str, float] = {}
        checkin_rate: dict[str, tuple[float, float]] = {}
        for name, rounds in measured.items():
            trivial = Result.pooled("auth/me", [r[0] for r in rounds])
            checkins = Result.pooled("check-in", [r[1] for r in rounds])
            per_me[name] = trivial.server_cpu / trivial.count * 1000
            print(f"  {name}")
            for result in (trivial, checkins):
                print("    " + result.line().replace("\n", "\n  "))
            ratio = checkins.rate / trivial.rate if trivial.rate else 0.0
            checkin_rate[name] = (checkins.rate, checkins.ms(0.95))
            print(
                f"    auth/me server CPU {per_me[name]:.2f} ms   target <= {TARGET_CPU_MS} ms: "
                f"{'PASS' if per_me[name] <= TARGET_CPU_MS else 'MISS'}"
            )
            print(
                f"    check-in / auth/me throughput = {checkins.rate:.1f} / {trivial.rate:.1f} "
                f"= {ratio:.2f}   target >= {TARGET_RATIO}: "
                f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}"
            )
        print()
        for mode in modes if len(modes) > 1 else [""]:
            key = f"/{mode}" if mode else ""
            if f"gunicorn{key}" in per_me and f"granian{key}" in per_me:
                fast, slow = per_me[f"granian{key}"], per_me[f"gunicorn{key}"]
                said = f" ({mode})" if mode else ""
                print(
                    f"  granian / gunicorn server CPU per auth/me{said} = {fast:.2f} / "
                    f"{slow:.2f} = {fast / slow:.2f}"
                )
        if {"FULL", "NORMAL"} <= set(modes):
            for server_name in names:
                (full, full_p95), (normal, normal_p95) = (
                    checkin_rate[f"{server_name}/FULL"],
                    checkin_rate[f"{server_name}/NORMAL"],
                )
                print(
                    f"  {server_name}: check-ins with synchronous=FULL / NORMAL = {full:.1f} / "
                    f"{normal:.1f} per s = {full / normal:.2f} (p95 {full_p95:.0f} / "
                    f"{normal_p95:.0f} ms)"
                )
    finally:
        if process is not None:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

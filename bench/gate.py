"""Gate speed: check-ins through `siaga serve`, against a trivial authenticated JSON endpoint
measured in the same run under the same load.

    .venv/bin/python bench/gate.py [--seconds 10] [--clients 20] [--warmup 2] [--people 2000]
    .venv/bin/python bench/gate.py --rounds 3          # alternate the phases, pool the figures
    .venv/bin/python bench/gate.py --zone grounds      # check in to the grounds (zone null)
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/gate.py

Real processes: `siaga serve` (gunicorn, with its default workers and threads, printed) answers
the API; the bench's client threads, each with its own keep-alive HTTP connection, send as fast
as the server answers. The database is a fresh SQLite one under a temporary SIAGA_HOME, or the
one SIAGA_DATABASE_URL names, which is emptied first (never point it at real data). Set-up goes
through the services: the OKU Timur regions, a Polri guard with an API token, a KPU
commissioner, the OKU Timur warehouse with its gate zone (not storage: the two-person rule does
not apply), site rules without an after-hours window (so the bench runs at any hour), and
``--people`` holders of standing passes for the gate zone.

Phase 1: GET /api/v1/auth/me (the trivial authenticated endpoint). Phase 2: POST
/api/v1/gate/check-in with a badge, each request a different person and a new client id; every
answer must be 201. Both run closed loop (each client sends again as soon as it is answered)
after an unmeasured warm-up; ``--rounds`` alternates them and pools the figures. Then the same
check-ins paced at ``--paced-rate`` per second in all (open loop, latency counted from when a
request was due). Phase 3: check-outs by badge, then a few check-ins and check-outs sent again
with the same ids (200, nothing new). Afterwards the database must hold exactly one gate event
and one ``access.gate.*`` ledger entry per 201, and the ledger must verify.

Besides throughput and latency, each phase prints the server's CPU time per request (gunicorn
master and workers, from /proc) and the clients'. On a machine shared with other work, where
throughput moves with the neighbours' load, the ratio of the CPU figures is the steadier one.
In a closed loop, mean latency is clients / throughput (Little's law), so the p95 target at 20
clients also asks for more than 400 answers per second; the paced figure shows latency at a
load the server can carry.

Targets (issue #5): with 20 concurrent clients on SQLite, check-in p95 under 50 ms, and
check-in throughput at least 0.5 x that of GET /api/v1/auth/me in the same run.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_P95_MS = 50.0
TARGET_RATIO = 0.5
RESENDS = 5

# One request: (method, path, JSON body or None, what to remember about it).
Request = tuple[str, str, dict[str, Any] | None, Any]


@dataclass
class World:
    token: str
    site: str
    zone: str
    badges: list[str]
    environment: dict[str, str]
    vendor: str


@dataclass
class Result:
    """What one phase measured: the latencies and answers of the requests sent after warm-up."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: int = 0
    elapsed: float = 0.0
    ran_out: bool = False
    server_cpu: float = 0.0  # CPU seconds of the gunicorn master and workers in the phase
    client_cpu: float = 0.0  # CPU seconds of this process (the client threads)
    done: list[tuple[Any, int]] = field(default_factory=list)  # (tag, status) per request

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    def line(self) -> str:
        return (
            f"{self.name:<10} {self.count:>6} requests in {self.elapsed:5.1f} s = "
            f"{self.rate:7.1f}/s   p50 {self.ms(0.50):6.1f} ms  p95 {self.ms(0.95):6.1f} ms  "
            f"p99 {self.ms(0.99):6.1f} ms  max {max(self.latencies, default=0) * 1000:6.1f} ms   "
            f"answers {dict(sorted(self.statuses.items()))}"
            + (f", connection errors {self.errors}" if self.errors else "")
            + (" (ran out of people: raise --people)" if self.ran_out else "")
            + f"\n{'':13}CPU per request: server {self.cpu_ms(self.server_cpu)}, "
            f"clients {self.cpu_ms(self.client_cpu)}"
        )

    @classmethod
    def pooled(cls, name: str, results: list[Result]) -> Result:
        """Several rounds of one phase as one: requests over the time they took together."""
        pooled = cls(name)
        for result in results:
            pooled.latencies += result.latencies
            pooled.statuses += result.statuses
            pooled.errors += result.errors
            pooled.elapsed += result.elapsed
            pooled.ran_out |= result.ran_out
            pooled.done += result.done
            pooled.server_cpu += result.server_cpu
            pooled.client_cpu += result.client_cpu
        return pooled

    def cpu_ms(self, seconds: float) -> str:
        return f"{seconds * 1000 / self.count:.1f} ms" if self.count and seconds else "n/a"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nik(n: int) -> str:
    """The n-th structurally valid NIK of Kecamatan 16.08.01 (born 1980 to 1989)."""
    day, month, year = 1 + n % 28, 1 + (n // 28) % 12, 80 + (n // 336) % 10
    return f"160801{day:02d}{month:02d}{year:02d}{1 + n % 9999:04d}"


def setup(home: Path, people: int) -> World:
    """A migrated database with the gate's cast; see the module's docstring."""
    os.environ["SIAGA_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    from siaga.access import services
    from siaga.accounts.choices import AgencyKind, Role
    from siaga.accounts.models import Agency, AgencyUnit, User
    from siaga.accounts.services import add_membership, issue_api_token
    from siaga.regions.services import load_regions
    from siaga.sites.choices import SiteKind, ZoneKind
    from siaga.sites.models import Site, Zone

    load_regions()
    polri = Agency.objects.create(kind=AgencyKind.POLRI, name="Polri")
    kpu = Agency.objects.create(kind=AgencyKind.KPU, name="KPU")
    polres = AgencyUnit.objects.create(agency=polri, region_id="16.08", name="Polres OKU Timur")
    kpu_unit = AgencyUnit.objects.create(agency=kpu, region_id="16.08", name="KPU OKU Timur")
    guard = User.objects.create(username="jaga.okut")
    add_membership(actor=None, user=guard, unit=polres, role=Role.GUARD)
    commissioner = User.objects.create(username="komisioner.okut")
    add_membership(actor=None, user=commissioner, unit=kpu_unit, role=Role.KPU_COMMISSIONER)
    site = Site.objects.create(
        code="GUDANG-16.08",
        name="Gudang Logistik KPU OKU Timur",
        kind=SiteKind.WAREHOUSE,
        region_id="16.08.01.1008",
        owner_unit=kpu_unit,
    )
    Zone.objects.create(site=site, name="Gudang A", kind=ZoneKind.STORAGE, restricted=True)
    gate = Zone.objects.create(site=site, name="Gerbang utama", kind=ZoneKind.GATE)
    # No after-hours window (start == end): the bench runs at any hour.
    services.update_rules(
        actor=commissioner,
        site_id=site.pk,
        two_person_rule=True,
        after_hours_start=dt.time(0, 0),
        after_hours_end=dt.time(0, 0),
        max_per_zone=None,
    )
    now = timezone.now()
    badges = []
    with transaction.atomic():
        for n in range(people):
            issued = services.issue_pass(
                actor=commissioner,
                person=services.PersonData(nik=nik(n), name=f"Pekerja Gudang {n:05d}"),
                site_id=site.pk,
                zone_ids=[gate.pk],
                kind="worker",
                valid_from=now - dt.timedelta(days=1),
                valid_until=now + dt.timedelta(days=30),
                now=now,
            ).obj
            badges.append(issued.qr_payload)
    _token, raw = issue_api_token(actor=guard, name="bench")
    vendor = connection.vendor
    connection.close()
    environment = dict(os.environ)
    environment["SIAGA_HOME"] = str(home)
    return World(raw, str(site.pk), str(gate.pk), badges, environment, vendor)


def serve_defaults() -> tuple[int, int]:
    """The workers and threads `siaga serve` uses when not told (as its parser says)."""
    from siaga.core.management.commands.serve import Command

    options = Command().create_parser("siaga", "serve").parse_args([])
    return options.workers, options.threads


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


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its children (Linux /proc; else 0)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") if ticks else 0.0


def hammer(
    name: str,
    server: int,
    port: int,
    token: str,
    clients: int,
    seconds: float,
    next_request: Callable[[], Request | None],
    rate: float = 0.0,
) -> Result:
    """``clients`` threads, each on its own keep-alive connection, send what ``next_request``
    gives until ``seconds`` have passed (or it gives None). A request whose connection breaks
    is sent once more on a new one (the gate's writes are idempotent by id).

    Without ``rate``, each client sends its next request as soon as it has the answer (closed
    loop: the server's top speed). With ``rate``, the clients together send ``rate`` requests
    per second on a fixed schedule (open loop), and a latency counts from when the request was
    due, so a server that falls behind is not flattered by clients that wait for it."""
    result = Result(name)
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = 0.0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    finished: list[float] = []

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        latencies: list[float] = []
        done: list[tuple[Any, int]] = []
        errors = 0
        ready.wait()
        go.wait()
        due = deadline - seconds + number / rate if rate else 0.0
        answered = time.perf_counter()
        while (due if rate else time.perf_counter()) < deadline:
            if rate:
                time.sleep(max(0.0, due - time.perf_counter()))
                if time.perf_counter() - answered > 1.0:  # gunicorn drops idle keep-alives
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            request = next_request()
            if request is None:
                with lock:
                    result.ran_out = True
                break
            method, path, body, tag = request
            data = json.dumps(body).encode() if body is not None else None
            status = 0  # no answer, twice
            for _attempt in (1, 2):
                started = time.perf_counter()
                try:
                    conn.request(method, path, body=data, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    continue
                answered = time.perf_counter()
                latencies.append(answered - (min(due, started) if rate else started))
                status = response.status
                break
            done.append((tag, status))
            due += clients / rate if rate else 0.0
        conn.close()
        with lock:
            finished.append(time.perf_counter())
            result.latencies += latencies
            result.done += done
            result.errors += errors
            for _tag, status in done:
                result.statuses[status] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every client connected
    cpu_before = server_cpu(server), time.process_time()
    began = time.perf_counter()
    deadline = began + seconds
    go.set()
    for thread in threads:
        thread.join()
    result.elapsed = max(finished) - began
    result.server_cpu = server_cpu(server) - cpu_before[0]
    result.client_cpu = time.process_time() - cpu_before[1]
    return result


def taker(items: list[Any]) -> Callable[[], Any]:
    """Hands out each item once, to whichever client asks (deque.popleft is atomic)."""
    waiting = collections.deque(items)

    def take() -> Any:
        try:
            return waiting.popleft()
        except IndexError:
            return None

    return take


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per phase")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load per phase")
    parser.add_argument("--people", type=int, default=2000, help="pass holders (one check-in each)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate auth/me and check-in phases this often"
    )
    parser.add_argument(
        "--zone",
        choices=["gate", "grounds"],
        default="gate",
        help="check in to the gate zone (default) or to the grounds (zone null)",
    )
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=5.0,
        help="also measure check-ins sent at this many per second in all (0: skip)",
    )
    parser.add_argument("--no-checkout", action="store_true", help="skip phase 3")
    parser.add_argument("--workers", type=int, help="override siaga serve's default workers")
    parser.add_argument("--threads", type=int, help="override siaga serve's default threads")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-gate-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        world = setup(home, args.people)
        print(
            f"[{world.vendor}] set-up: regions, 1 site, {args.people} standing passes in "
            f"{time.perf_counter() - started:.1f} s"
        )
        workers, threads = serve_defaults()
        port = free_port()
        command = [sys.executable, "-m", "siaga.cli", "serve", "--port", str(port)]
        settings = "with its defaults"
        if args.workers or args.threads:
            settings = "OVERRIDDEN (not the defaults)"
            workers, threads = args.workers or workers, args.threads or threads
            command += ["--workers", str(workers), "--threads", str(threads)]
        server = subprocess.Popen(
            command,
            env=world.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"http://127.0.0.1:{port}/healthz")
        print(
            f"  siaga serve {settings}: {workers} workers x {threads} threads (gthread); "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.clients} "
            "clients on keep-alive connections, "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per phase; check-in to "
            f"{'the gate zone' if args.zone == 'gate' else 'the grounds (zone null)'}"
        )

        def me() -> Request:
            return ("GET", "/api/v1/auth/me", None, None)

        zone = world.zone if args.zone == "gate" else None
        take = taker(world.badges)
        sent: dict[str, dict[str, Any]] = {}  # check-in id -> body

        def check_in() -> Request | None:
            badge = take()
            if badge is None:
                return None
            body = {"id": str(uuid.uuid4()), "badge": badge, "zone": zone}
            return ("POST", "/api/v1/gate/check-in", body, body)

        run = (server.pid, port, world.token, args.clients)
        rounds: list[tuple[Result, Result]] = []
        other_statuses: collections.Counter[int] = collections.Counter()
        for number in range(1, args.rounds + 1):
            hammer("warm-up", *run, args.warmup, me)
            trivial = hammer("auth/me", *run, args.seconds, me)
            warm_in = hammer("warm-up", *run, args.warmup, check_in)
            checkins = hammer("check-in", *run, args.seconds, check_in)
            other_statuses += warm_in.statuses
            for phase in (warm_in, checkins):
                sent.update({body["id"]: body for body, status in phase.done if status == 201})
            rounds.append((trivial, checkins))
            if args.rounds > 1:
                print(
                    f"  round {number}: auth/me {trivial.rate:6.1f}/s, check-in "
                    f"{checkins.rate:6.1f}/s, ratio {checkins.rate / max(trivial.rate, 1e-9):.2f}, "
                    f"check-in p95 {checkins.ms(0.95):.0f} ms"
                )
        trivial = Result.pooled("auth/me", [me_ for me_, _in in rounds])
        checkins = Result.pooled("check-in", [in_ for _me, in_ in rounds])
        results = [trivial, checkins]
        paced: Result | None = None
        if args.paced_rate:
            paced = hammer("paced in", *run, args.seconds, check_in, rate=args.paced_rate)
            sent.update({body["id"]: body for body, status in paced.done if status == 201})
            other_statuses += paced.statuses
            results.append(paced)
        checkouts: Result | None = None
        out_ids: set[str] = set()
        resend_statuses: collections.Counter[int] = collections.Counter()
        if not args.no_checkout:
            leaving = taker(list(sent.values()))

            def check_out() -> Request | None:
                entered = leaving()
                if entered is None:
                    return None
                body = {"id": str(uuid.uuid4()), "badge": entered["badge"]}
                return ("POST", "/api/v1/gate/check-out", body, body)

            checkouts = hammer("check-out", *run, args.seconds, check_out)
            results.append(checkouts)
            out_ids = {body["id"] for body, status in checkouts.done if status == 201}
            again_in = list(sent.values())[:RESENDS]
            again_out = [b for b, status in checkouts.done if status == 201][:RESENDS]
            replay = taker(
                [("POST", "/api/v1/gate/check-in", b, b) for b in again_in]
                + [("POST", "/api/v1/gate/check-out", b, b) for b in again_out]
            )
            resend = hammer("resend", server.pid, port, world.token, 2, 30, replay)
            resend_statuses = resend.statuses
        server.terminate()
        server.wait(timeout=20)
        server = None

        print(f"\n  load average after the phases: {os.getloadavg()[0]:.1f}")
        for result in results:
            print("  " + result.line())
        problems = verify(
            sent, out_ids, other_statuses + checkins.statuses, checkouts, resend_statuses
        )
        ratio = checkins.rate / trivial.rate if trivial.rate else 0.0
        p95 = checkins.ms(0.95)
        print()
        print(
            f"  check-in throughput / auth/me throughput = {checkins.rate:.1f} / "
            f"{trivial.rate:.1f} = {ratio:.2f}   target >= {TARGET_RATIO}: "
            f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}"
        )
        print(
            f"  check-in p95 at full speed ({args.clients} clients, closed loop) = {p95:.1f} ms"
            f"   target < {TARGET_P95_MS:.0f} ms: {'PASS' if p95 < TARGET_P95_MS else 'MISS'}"
        )
        if trivial.server_cpu and checkins.server_cpu:
            per_me, per_in = (
                trivial.server_cpu / trivial.count,
                checkins.server_cpu / checkins.count,
            )
            print(
                f"    (server CPU per request: auth/me {per_me * 1000:.1f} ms, check-in "
                f"{per_in * 1000:.1f} ms: a server short of CPU reaches at most "
                f"{per_me / per_in:.2f}; it moves little with other load on the machine)"
            )
        mean = args.clients / checkins.rate * 1000 if checkins.rate else 0.0
        print(
            f"    (closed loop: mean latency = clients / throughput = {args.clients} / "
            f"{checkins.rate:.1f}/s = {mean:.0f} ms; a mean under {TARGET_P95_MS:.0f} ms "
            f"needs more than {args.clients / TARGET_P95_MS * 1000:.0f} check-ins/s)"
        )
        if paced is not None:
            print(
                f"  check-in p95 at {args.paced_rate:g}/s from {args.clients} clients (open loop, "
                f"reached {paced.rate:.1f}/s) = {paced.ms(0.95):.1f} ms   target < "
                f"{TARGET_P95_MS:.0f} ms: {'PASS' if paced.ms(0.95) < TARGET_P95_MS else 'MISS'}"
            )
        if problems:
            print("  CORRECTNESS FAILED:")
            for problem in problems:
                print(f"    - {problem}")
            raise SystemExit(1)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(home, ignore_errors=True)


def verify(
    sent: dict[str, dict[str, Any]],
    out_ids: set[str],
    checkin_statuses: collections.Counter[int],
    checkouts: Result | None,
    resend_statuses: collections.Counter[int],
) -> list[str]:
    """Nothing lost, nothing doubled, the ledger whole; prints what it checked."""
    from django.db import connection

    from siaga.access.choices import GateEventKind
    from siaga.access.models import GateEvent, Presence
    from siaga.ledger import audit
    from siaga.ledger.models import Entry

    connection.close()
    problems = []
    if set(checkin_statuses) != {201}:
        problems.append(f"check-ins answered {dict(checkin_statuses)}, not all 201")
    if checkouts is not None and set(checkouts.statuses) - {201}:
        problems.append(f"check-outs answered {dict(checkouts.statuses)}, not all 201")
    if resend_statuses and set(resend_statuses) != {200}:
        problems.append(f"resends answered {dict(resend_statuses)}, not all 200")
    events = GateEvent.objects.all()
    kinds = [(GateEventKind.CHECK_IN, set(sent))]
    if checkouts is not None:
        kinds.append((GateEventKind.CHECK_OUT, out_ids))
    for kind, ids in kinds:
        rows = {str(pk) for pk in events.filter(kind=kind).values_list("pk", flat=True)}
        ledger_rows = Entry.objects.filter(kind=f"access.gate.{kind}").count()
        unsealed = events.filter(kind=kind, ledger_seq__isnull=True).count()
        print(
            f"  {kind}: {len(ids)} answered 201; {len(rows)} gate events "
            f"({len(rows & ids)} of them the ids sent); {ledger_rows} ledger entries; "
            f"{unsealed} events without a ledger entry"
        )
        if rows != ids:
            problems.append(
                f"{kind}: {len(ids - rows)} answered 201 but missing, {len(rows - ids)} extra"
            )
        if ledger_rows != len(ids) or unsealed:
            problems.append(f"{kind}: {ledger_rows} ledger entries for {len(ids)} events")
    inside = Presence.objects.count()
    print(f"  inside now: {inside} (expected {len(sent) - len(out_ids)})")
    if inside != len(sent) - len(out_ids):
        problems.append(f"{inside} inside, expected {len(sent) - len(out_ids)}")
    if resend_statuses:
        print(f"  resends with the same ids: {dict(resend_statuses)}")
    try:
        verified = audit.verify_database()
    except audit.Broken as exc:
        problems.append(f"ledger does not verify: {exc}")
    else:
        print(f"  ledger verifies: {verified.entries} entries")
    return problems


if __name__ == "__main__":
    main()

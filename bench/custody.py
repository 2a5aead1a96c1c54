"""Custody at scale: a generated province and national TPS registry, batch scan ingest, and the
reconciliation and needs roll-up read back from it, each next to a raw-SQL baseline measured in
the same run.

    .venv/bin/python bench/custody.py                      # SQLite, Sumatera Selatan only
    .venv/bin/python bench/custody.py --tps-scale 0.1      # a tenth of the TPS: a quick run
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench_custody \\
        .venv/bin/python bench/custody.py --database postgres   # with the national registry

The database is a fresh SQLite one under a temporary SIAGA_HOME, or the PostgreSQL database
SIAGA_DATABASE_URL names, whose ``public`` schema is DROPPED first (never point it at real data).

Generator (set-up, not the subject: it bulk-inserts rows directly, without services or ledger
entries, and says so). Regions from ``load_regions()`` (all 83,762 desa). Synthetic TPS per desa
from a seeded RNG keyed on the desa code, so every run builds the same registry: about 26,000 in
the province and about 820,000 nationally (``--national``), 150-300 voters each, streamed into
the database in batches (COPY on PostgreSQL, executemany on SQLite), never all in memory. For
the province: a KPU warehouse per kabupaten and a PPK store per kecamatan; per TPS, its needs
(``siaga.logistics.needs.need_for_tps``) packed in one ballot box per ballot
kind (the first box also carries the TPS's other items), two seals each; per kecamatan one
dispatched handover (BAST) warehouse -> PPK holding its packages, with their seal serials.
On PostgreSQL the generator ends with ANALYZE, as autovacuum would after a bulk load.

Measured:
1. Batch scan ingest through ``siaga.logistics.services.ingest_scans`` (validate, state update,
   Scan row and ledger entry per scan) in batches of ``--batch``: receive scans for the packages
   of dispatched handovers, then seal scans for their seals, ``--scans`` in all, by one client;
   then as many again by ``--clients`` processes at once (default: one per CPU), each on other
   BASTs, as phones reach the server's worker processes together. The target is judged on
   the better of the two arrangements (SQLite writes one transaction at a time, so its
   clients only wait on each other). Baseline: the same number of plain rows inserted with
   executemany into a scratch table, same batches, one client.
2. Reconciliation of one kabupaten (``--kabupaten``, default 16.08) through
   ``selectors.reconcile``, next to raw SQL GROUP BYs giving the same totals (checked equal).
3. The national needs roll-up by province (``needs.needs_by_region``, with ``--national``) next
   to a raw SQL aggregate and to its own query run raw (TPS, voters, ballots checked equal).
Then the ledger is verified (``--no-verify`` skips it); ``--profile FILE`` writes cProfile
data for the one-client ingest (FILE) and one reconciliation (FILE.reconcile); ``--keep``
keeps the SQLite database to look into.
Peak memory: ru_maxrss of this process (``--tracemalloc`` adds Python's own peak, slowly).

Targets (the issue): generator under 1 GB peak; ingest >= 5,000 scans/s on SQLite and >= 10,000
on PostgreSQL; kabupaten reconciliation under 300 ms; national roll-up under 5 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_RSS_MB = 1024
TARGET_SCANS = {"sqlite": 5_000, "postgresql": 10_000}
TARGET_RECONCILE_MS = 300.0
TARGET_ROLLUP_S = 5.0

NATIONAL_TPS = 820_000  # Pemilu 2024: about 820 thousand TPS
PROVINCE_TPS = {"16": 26_000}  # Sumatera Selatan
VOTERS = (150, 300)
SEALS_PER_BOX = 2
ELECTION = "pemilu-2024"
INSERT_BATCH = 5_000
FLUSH_PACKAGES = 20_000  # province rows are written in groups of about this many packages
REPEAT = 5  # read timings: median of this many runs after one cold run
ROLLUP_REPEAT = 3


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- set-up --------------------------------------------------------------------------------


def setup_django(home: Path, database: str) -> str:
    os.environ["SIAGA_HOME"] = str(home)
    if database == "sqlite":
        os.environ.pop("SIAGA_DATABASE_URL", None)
    elif not os.environ.get("SIAGA_DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("--database postgres needs SIAGA_DATABASE_URL=postgres://… (emptied!)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    return str(connection.vendor)


class Rows:
    """Values as the database takes them, without a model instance per row: the generator's
    own fast path (UUIDs as hex on SQLite, JSON as text)."""

    def __init__(self) -> None:
        from django.db import connection
        from django.db.models import DateTimeField

        self.pg = connection.vendor == "postgresql"
        self._time = DateTimeField()
        self._connection = connection

    def id(self, value: uuid.UUID | None) -> Any:
        if value is None:
            return None
        return value if self.pg else value.hex

    def time(self, value: dt.datetime | None) -> Any:
        return self._time.get_db_prep_save(value, self._connection)

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value)


def check_columns(model: Any, columns: Sequence[str]) -> None:
    """Every NOT NULL column the table has must be written (the models may still change)."""
    have = {f.column for f in model._meta.concrete_fields}
    unknown = set(columns) - have
    missing = {
        f.column
        for f in model._meta.concrete_fields
        if not f.null and f.column not in columns and not f.primary_key
    }
    if unknown or missing:
        raise SystemExit(
            f"bench out of date with {model.__name__}: unknown columns {sorted(unknown)}, "
            f"NOT NULL columns not written {sorted(missing)}"
        )


def insert(model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Stream ``rows`` into ``model``'s table: COPY on PostgreSQL, executemany in batches on
    SQLite; the caller's transaction, if any, holds them."""
    from django.db import connection, transaction

    check_columns(model, columns)
    table = model._meta.db_table
    names = ", ".join(f'"{c}"' for c in columns)
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["%s"] * len(columns))})'  # noqa: S608
            for chunk in itertools.batched(rows, INSERT_BATCH):
                cursor.executemany(sql, chunk)
                count += len(chunk)
    return count


@dataclass
class World:
    vendor: str
    actor: Any
    election: Any
    units: dict[str, Any]  # kabupaten code -> KPU unit id
    province_unit: Any
    rules: list[Any]
    items: dict[int, Any]  # item id -> ItemType
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    tps_total: int = 0
    tps_province: int = 0


def base_world(vendor: str, province: str, national: bool) -> World:
    """Regions, the catalogue, KPU units and the operator who scans."""
    from siaga.accounts.choices import AgencyKind, Role
    from siaga.accounts.models import Agency, AgencyUnit, User
    from siaga.accounts.services import add_membership
    from siaga.logistics.models import ItemType
    from siaga.logistics.needs import rules_of
    from siaga.logistics.services import seed_catalogue
    from siaga.regions.models import Region
    from siaga.regions.services import load_regions

    load_regions()
    election = seed_catalogue(code=ELECTION)
    kpu = Agency.objects.create(kind=AgencyKind.KPU, name="KPU")
    province_unit = AgencyUnit.objects.create(
        agency=kpu, region_id=province, name=f"KPU Provinsi {province}"
    )
    kabupaten = Region.objects.filter(level=2)
    if not national:
        kabupaten = kabupaten.filter(code__startswith=province + ".")
    AgencyUnit.objects.bulk_create(
        AgencyUnit(agency=kpu, region_id=code, name=f"KPU {name}")
        for code, name in kabupaten.values_list("code", "name")
    )
    units = dict(
        AgencyUnit.objects.filter(agency=kpu, region__level=2).values_list("region_id", "id")
    )
    actor = User.objects.create(username=f"operator.{province}")
    add_membership(actor=None, user=actor, unit=province_unit, role=Role.KPU_OPERATOR)
    rules = rules_of(election)
    items = {i.pk: i for i in ItemType.objects.filter(election=election)}
    return World(vendor, actor, election, units, province_unit.pk, rules, items)


# --- generator: TPS registry -----------------------------------------------------------------


def desa_by_province(province: str | None) -> list[str]:
    from siaga.regions.models import Region

    desa = Region.objects.filter(level=4)
    if province:
        desa = desa.filter(code__startswith=province + ".")
    return list(desa.order_by("code").values_list("code", flat=True))


def tps_per_desa(desa: list[str], province: str, scale: float) -> dict[str, float]:
    """Mean TPS per desa in each province: the province's own figure where known, the rest of
    the national total spread over the other desa."""
    per_province = Counter(code[:2] for code in desa)
    known = {p: n for p, n in PROVINCE_TPS.items() if p in per_province}
    rest_desa = sum(n for p, n in per_province.items() if p not in known)
    rest_mean = (NATIONAL_TPS - sum(known.values())) / max(rest_desa, 1)
    return {
        p: scale * (known[p] / per_province[p] if p in known else rest_mean) for p in per_province
    }


def tps_rows(
    world: World, rows: Rows, desa: list[str], means: dict[str, float], seed: int, now: Any
) -> Iterator[tuple[Any, ...]]:
    """The TPS of each desa, reproducibly: the count and voters come from an RNG seeded with
    the desa code, so a desa has the same TPS whatever else is generated."""
    from siaga.core.ids import uuid7

    for code in desa:
        rng = random.Random(f"{seed}:{code}")
        count = int(means[code[:2]] * rng.uniform(0.5, 1.5) + rng.random())
        unit = world.units[code[:5]]
        for n in range(1, count + 1):
            voters = rng.randint(*VOTERS)
            yield (
                rows.id(uuid7()),
                now,
                now,
                f"TPS-{code}-{n:03d}",
                f"TPS {n:03d} {code}",
                "tps",
                code,
                unit,
                "",
                voters,
                True,
                True,
            )


SITE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "code",
    "name",
    "kind",
    "region_id",
    "owner_unit_id",
    "address",
    "voters",
    "synthetic",
    "active",
)


def generate_registry(world: World, province: str, national: bool, scale: float, seed: int) -> None:
    from siaga.sites.models import Site

    rows = Rows()
    started = time.perf_counter()
    desa = desa_by_province(None if national else province)
    means = tps_per_desa(desa, province, scale)
    now = rows.time(dt.datetime.now(dt.UTC))
    world.tps_total = insert(Site, SITE_COLUMNS, tps_rows(world, rows, desa, means, seed, now))
    elapsed = time.perf_counter() - started
    world.tps_province = Site.objects.filter(
        kind="tps", region__code__startswith=province + "."
    ).count()
    world.timings.append(
        (
            f"TPS registry: {world.tps_total:,} TPS in {len(desa):,} desa "
            f"({'national' if national else 'province ' + province + ' only'}; "
            f"{world.tps_province:,} in {province})",
            elapsed,
            f"{world.tps_total / elapsed:,.0f} rows/s",
        )
    )


# --- generator: the province's packages, seals and handovers ----------------------------------


@dataclass
class Batch:
    handovers: list[tuple[Any, ...]] = field(default_factory=list)
    packages: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    seals: list[tuple[Any, ...]] = field(default_factory=list)
    parts: list[tuple[Any, ...]] = field(default_factory=list)


PACKAGE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "code",
    "election_id",
    "kind",
    "label",
    "origin_id",
    "destination_id",
    "location_id",
    "state",
    "handover_id",
    "packed_at",
    "packed_by_id",
    "received_at_tps",
)
HANDOVER_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "number",
    "election_id",
    "leg",
    "from_site_id",
    "to_site_id",
    "state",
    "giver_id",
    "witnesses",
    "place",
    "vehicle_plate",
    "dispatched_at",
)
LINE_COLUMNS = ("package_id", "item_id", "quantity")
SEAL_COLUMNS = ("serial", "package_id", "state", "applied_at", "applied_by_id", "changed_at")
PART_COLUMNS = ("handover_id", "package_id", "seals", "received", "seals_seen")


def flush(batch: Batch) -> None:
    from django.db import transaction

    from siaga.logistics.models import Handover, HandoverPackage, Package, PackageLine, Seal

    with transaction.atomic():
        insert(Handover, HANDOVER_COLUMNS, batch.handovers)
        insert(Package, PACKAGE_COLUMNS, batch.packages)
        insert(PackageLine, LINE_COLUMNS, batch.lines)
        insert(Seal, SEAL_COLUMNS, batch.seals)
        insert(HandoverPackage, PART_COLUMNS, batch.parts)
    for rows in (batch.handovers, batch.packages, batch.lines, batch.seals, batch.parts):
        rows.clear()


def box_layout(world: World) -> tuple[list[int], int | None]:
    """Ballot item ids in catalogue order (one box each) and the ballot box item."""
    from siaga.logistics.choices import ItemCategory

    ordered = sorted(world.items.values(), key=lambda i: (i.position, i.code))
    ballots = [i.pk for i in ordered if i.category == ItemCategory.BALLOT]
    box = next((i.pk for i in ordered if i.category == ItemCategory.BOX), None)
    return ballots, box


def generate_province(world: World, province: str) -> dict[str, int]:
    from siaga.core.ids import uuid7
    from siaga.logistics.choices import HandoverState, Leg, PackageKind, PackageState, SealState
    from siaga.regions.models import Region
    from siaga.sites.choices import SiteKind
    from siaga.sites.models import Site

    rows = Rows()
    started = time.perf_counter()
    from siaga.logistics.needs import need_for_tps

    now_dt = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    now = rows.time(now_dt)
    # Stores: a KPU warehouse per kabupaten, a PPK store per kecamatan (a few hundred: ORM).
    kabupaten = dict(
        Region.objects.filter(level=2, code__startswith=province + ".").values_list("code", "name")
    )
    kecamatan = dict(
        Region.objects.filter(level=3, code__startswith=province + ".").values_list("code", "name")
    )
    Site.objects.bulk_create(
        [
            Site(
                code=f"GUDANG-{code}",
                name=f"Gudang Logistik KPU {name}",
                kind=SiteKind.WAREHOUSE,
                region_id=code,
                owner_unit_id=world.units[code],
                synthetic=True,
            )
            for code, name in kabupaten.items()
        ]
        + [
            Site(
                code=f"PPK-{code}",
                name=f"Gudang PPK {name}",
                kind=SiteKind.PPK,
                region_id=code,
                owner_unit_id=world.units[code[:5]],
                synthetic=True,
            )
            for code, name in kecamatan.items()
        ],
        batch_size=1000,
    )
    stores = dict(
        Site.objects.filter(
            kind__in=(SiteKind.WAREHOUSE, SiteKind.PPK), region__code__startswith=province + "."
        ).values_list("region_id", "id")
    )
    # The province's TPS: some tens of thousands of small tuples (the national stream is not
    # read back).
    tps = list(
        Site.objects.filter(kind=SiteKind.TPS, region__code__startswith=province + ".")
        .order_by("region_id", "code")
        .values_list("id", "code", "region_id", "voters")
    )
    ballots, box_item = box_layout(world)
    actor = world.actor.pk
    election = world.election.pk
    batch = Batch()
    counts: Counter[str] = Counter()
    serial = 0
    for kec, group in itertools.groupby(tps, key=lambda t: t[2][:8]):
        warehouse, ppk = stores[kec[:5]], stores[kec]
        handover = uuid7()
        batch.handovers.append(
            (
                rows.id(handover),
                now,
                now,
                f"BAST-{kec}-{handover.hex[-8:].upper()}",
                election,
                Leg.OUTBOUND,
                rows.id(warehouse),
                rows.id(ppk),
                HandoverState.DISPATCHED,
                actor,
                rows.json([{"name": "Bripka Bench", "agency": "polri", "position": ""}]),
                f"Gudang KPU {kec[:5]}",
                "BG 1234 XY",
                now,
            )
        )
        counts["handovers"] += 1
        for tps_id, tps_code, region, voters in group:
            need = need_for_tps(world.rules, region, voters)
            boxes: list[dict[int, int]] = [{b: need[b]} for b in ballots if need.get(b, 0) > 0] or [
                {}
            ]
            for item, quantity in need.items():
                if item in ballots or quantity <= 0:
                    continue
                if item == box_item:  # one ballot box per ballot kind, the rest in the first
                    for contents in boxes:
                        contents[item] = 1
                    if quantity > len(boxes):
                        boxes[0][item] = 1 + quantity - len(boxes)
                    continue
                boxes[0][item] = quantity
            for number, contents in enumerate(boxes, start=1):
                package = uuid7()
                batch.packages.append(
                    (
                        rows.id(package),
                        now,
                        now,
                        f"{tps_code}-{number:02d}",
                        election,
                        PackageKind.BOX,
                        f"Kotak {number}",
                        rows.id(warehouse),
                        rows.id(tps_id),
                        None,
                        PackageState.IN_TRANSIT,
                        rows.id(handover),
                        now,
                        actor,
                        None,
                    )
                )
                batch.lines.extend((rows.id(package), i, q) for i, q in contents.items())
                serials = []
                for _n in range(SEALS_PER_BOX):
                    serial += 1
                    serials.append(f"SG{province}{serial:09d}")
                batch.seals.extend(
                    (s, rows.id(package), SealState.APPLIED, now, actor, now) for s in serials
                )
                batch.parts.append(
                    (rows.id(handover), rows.id(package), rows.json(serials), False, "[]")
                )
                counts["packages"] += 1
                counts["lines"] += len(contents)
                counts["seals"] += len(serials)
        if len(batch.packages) >= FLUSH_PACKAGES:
            flush(batch)
    flush(batch)
    counts["tps"] = len(tps)
    counts["stores"] = len(stores)
    elapsed = time.perf_counter() - started
    rows_written = sum(counts[k] for k in ("handovers", "lines", "seals")) + 2 * counts["packages"]
    world.timings.append(
        (
            f"province {province}: {counts['stores']} stores, {counts['handovers']:,} handovers, "
            f"{counts['packages']:,} packages, {counts['lines']:,} package lines, "
            f"{counts['seals']:,} seals",
            elapsed,
            f"{rows_written / elapsed:,.0f} rows/s",
        )
    )
    return dict(counts)


# --- measured: scan ingest -------------------------------------------------------------------


@dataclass
class IngestResult:
    name: str
    scans: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.scans / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        ordered = sorted(self.batch_seconds) or [0.0]
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        cpu_us = self.cpu / max(self.scans, 1) * 1e6
        answers = dict(sorted(self.statuses.items()))
        return (
            f"{self.name:<15} {self.scans:>7,} scans in {self.elapsed:6.2f} s = "
            f"{self.rate:8,.0f}/s   per batch p50 {statistics.median(ordered) * 1000:6.1f} ms "
            f"p95 {p95 * 1000:6.1f} ms; this process's CPU {cpu_us:5.1f} us/scan; "
            f"answers {answers}" + (f" {dict(self.errors)}" if self.errors else "")
        )


Plan = tuple[list[Any], list[Any]]  # (receive scans, seal scans)


def scan_plans(province: str, scans: int, workers: int) -> tuple[Plan, list[Plan]]:
    """Scans for packages of the province's dispatched handovers: receive scans for a package,
    then one seal scan for each of its seals. The handovers are dealt out to the one-client run
    and to each of ``workers`` concurrent clients, so no two touch the same BAST (as two PPK
    teams would not); the one-client run gets about ``scans`` scans, the clients about
    ``scans / workers`` each."""
    from siaga.core.ids import uuid7
    from siaga.logistics.models import HandoverPackage
    from siaga.logistics.services import ScanIn

    per_package = 1 + SEALS_PER_BOX
    parts = HandoverPackage.objects.filter(
        handover__state="dispatched", handover__to_site__region__code__startswith=province + "."
    ).order_by("handover_id", "id")
    groups: list[list[tuple[Any, str, list[str]]]] = [[] for _n in range(1 + workers)]
    dealt: dict[Any, int] = {}
    for handover, code, serials in parts.values_list("handover_id", "package__code", "seals"):
        group = dealt.setdefault(handover, len(dealt) % len(groups))
        groups[group].append((handover, code, serials))

    def plan(group: list[tuple[Any, str, list[str]]], wanted: int) -> Plan:
        chosen = group[: max(1, math.ceil(wanted / per_package))]
        receive = [ScanIn(uuid7(), "receive", code, handover) for handover, code, _s in chosen]
        seals = [
            ScanIn(uuid7(), "seal", serial, handover, package=code)
            for handover, code, serials in chosen
            for serial in serials
        ]
        return receive, seals[: max(wanted - len(receive), 0)]

    return plan(groups[0], scans), [plan(g, scans // max(workers, 1)) for g in groups[1:]]


def ingest(name: str, world: World, scans: list[Any], size: int) -> IngestResult:
    from siaga.logistics.services import ingest_scans

    result = IngestResult(name)
    cpu = time.process_time()
    started = time.perf_counter()
    for start in range(0, len(scans), size):
        chunk = scans[start : start + size]
        began = time.perf_counter()
        outcomes = ingest_scans(actor=world.actor, scans=chunk)
        result.batch_seconds.append(time.perf_counter() - began)
        result.scans += len(chunk)
        for outcome in outcomes:
            result.statuses[outcome.status] += 1
            if outcome.error:
                result.errors[outcome.error] += 1
    result.elapsed = time.perf_counter() - started
    result.cpu = time.process_time() - cpu
    return result


def _client(world: World, plan: Plan, size: int, go: Any, answers: Any) -> None:
    """One concurrent client (a forked process with its own connection): its receive scans,
    then its seal scans, once the parent says go."""
    go.wait()
    answers.put(ingest("client", world, plan[0] + plan[1], size))


def ingest_concurrently(world: World, plans: list[Plan], size: int) -> IngestResult:
    """``len(plans)`` clients ingesting at once, each in its own process with its own
    database connection, as requests from several phones reach the server's worker
    processes. The rate is all their scans over the time from the start to the last finish;
    CPU is the clients' own."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each forked client opens its own
    context = multiprocessing.get_context("fork")
    go, answers = context.Event(), context.Queue()
    clients = [
        context.Process(target=_client, args=(world, plan, size, go, answers)) for plan in plans
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)  # let them import and connect before the clock starts
    started = time.perf_counter()
    go.set()
    results = [answers.get(timeout=600) for _client in clients]
    elapsed = time.perf_counter() - started
    for client in clients:
        client.join()
    together = IngestResult(f"{len(plans)} clients")
    for result in results:
        together.scans += result.scans
        together.cpu += result.cpu
        together.batch_seconds += result.batch_seconds
        together.statuses += result.statuses
        together.errors += result.errors
    together.elapsed = elapsed
    return together


def baseline_insert(count: int, size: int) -> IngestResult:
    """The floor under any ingest: ``count`` plain rows (the columns of a Scan) with
    executemany into a scratch table, one transaction per batch of ``size``."""
    from django.db import connection, transaction

    from siaga.core.ids import uuid7

    rows = Rows()
    pg = connection.vendor == "postgresql"
    uuid_type, time_type = ("uuid", "timestamptz") if pg else ("char(32)", "datetime")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_scratch")
        cursor.execute(
            f"CREATE TABLE bench_scratch (id {uuid_type} PRIMARY KEY, action varchar(10), "
            f"code varchar(80), handover {uuid_type}, at {time_type}, status integer)"
        )
    handover = rows.id(uuid7())
    now = rows.time(dt.datetime.now(dt.UTC))
    result = IngestResult("raw executemany")
    cpu = time.process_time()
    started = time.perf_counter()
    for start in range(0, count, size):
        chunk = [
            (rows.id(uuid7()), "receive", f"TPS-16.08.01.2001-{n:07d}", handover, now, 201)
            for n in range(start, min(start + size, count))
        ]
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_scratch (id, action, code, handover, at, status) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                chunk,
            )
        result.batch_seconds.append(time.perf_counter() - began)
        result.scans += len(chunk)
        result.statuses[201] += len(chunk)
    result.elapsed = time.perf_counter() - started
    result.cpu = time.process_time() - cpu
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_scratch")
    return result


def check_ingest(receive: int, seals: int) -> list[str]:
    """Every scan recorded once, each package and seal in its new state, one ledger entry per
    accepted scan."""
    from siaga.ledger.models import Entry
    from siaga.logistics.models import Package, Scan, Seal

    problems = []
    scans = Scan.objects.count()
    received = Package.objects.filter(state="received").count()
    verified = Seal.objects.filter(state="verified").count()
    entries = Entry.objects.filter(
        kind__in=("logistics.package.received", "logistics.seal.verified")
    ).count()
    print(
        f"  after ingest: {scans:,} scan rows, {received:,} packages received, {verified:,} "
        f"seals verified, {entries:,} ledger entries for them"
    )
    if scans != receive + seals:
        problems.append(f"{scans} scan rows for {receive + seals} scans")
    if received != receive:
        problems.append(f"{received} packages received, {receive} receive scans")
    if verified != seals:
        problems.append(f"{verified} seals verified, {seals} seal scans")
    if entries != receive + seals:
        problems.append(f"{entries} ledger entries for {receive + seals} scans")
    return problems


# --- measured: reads -------------------------------------------------------------------------


def timed(call: Callable[[], Any], repeat: int = REPEAT) -> tuple[Any, float, float]:
    """(result, cold seconds, median of ``repeat`` warm runs)."""
    began = time.perf_counter()
    result = call()
    cold = time.perf_counter() - began
    warm = []
    for _n in range(repeat):
        began = time.perf_counter()
        call()
        warm.append(time.perf_counter() - began)
    return result, cold, statistics.median(warm)


def raw_reconcile(kabupaten: str, election: str) -> dict[str, Any]:
    """The kabupaten's totals in plain SQL: TPS and voters; per item packed, dispatched and
    received at the TPS; packages the same."""
    from django.db import connection

    from siaga.logistics.models import Package, PackageLine
    from siaga.sites.models import Site

    site, package, line = (m._meta.db_table for m in (Site, Package, PackageLine))
    under = "(s.region_id = %s OR (s.region_id > %s AND s.region_id < %s))"
    where = [kabupaten, kabupaten + ".", kabupaten + "/"]
    tps_packages = (
        f"JOIN {site} s ON s.id = p.destination_id WHERE s.kind = 'tps' AND {under} "
        "AND p.election_id = %s AND p.state <> 'void'"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COALESCE(SUM(voters), 0) FROM {site} s "  # noqa: S608
            f"WHERE s.kind = 'tps' AND s.active = %s AND {under}",
            [True, *where],
        )
        tps, voters = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*), "  # noqa: S608
            "SUM(CASE WHEN p.handover_id IS NOT NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN p.received_at_tps IS NOT NULL THEN 1 ELSE 0 END) "
            f"FROM {package} p {tps_packages}",
            [*where, election],
        )
        packages = tuple(int(v or 0) for v in cursor.fetchone())
        cursor.execute(
            "SELECT l.item_id, SUM(l.quantity), "  # noqa: S608
            "SUM(CASE WHEN p.handover_id IS NOT NULL THEN l.quantity ELSE 0 END), "
            "SUM(CASE WHEN p.received_at_tps IS NOT NULL THEN l.quantity ELSE 0 END) "
            f"FROM {line} l JOIN {package} p ON p.id = l.package_id {tps_packages} "
            "GROUP BY l.item_id",
            [*where, election],
        )
        items = {item: tuple(int(v or 0) for v in rest) for item, *rest in cursor.fetchall()}
    return {"tps": int(tps), "voters": int(voters), "packages": packages, "items": items}


def reconcile_totals(recon: Any) -> dict[str, Any]:
    """The selectors' reconciliation reduced to what ``raw_reconcile`` gives."""
    total = recon.total
    return {
        "tps": total.tps,
        "voters": total.voters,
        "packages": (total.packages, total.packages_dispatched, total.packages_received),
        "items": {
            item: (f.packed, f.dispatched, f.received)
            for item, f in total.lines.items()
            if f.packed or f.dispatched or f.received
        },
    }


def raw_rollup() -> dict[str, tuple[int, int, int, int]]:
    """Per province: TPS, voters, the per-voter reserve (2 %, rounded up per TPS) and the
    kabupaten with TPS: every national need figure is made of these."""
    from django.db import connection

    from siaga.sites.models import Site

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUBSTR(region_id, 1, 2), COUNT(*), SUM(voters), "  # noqa: S608
            "SUM((voters * 200 + 9999) / 10000), COUNT(DISTINCT SUBSTR(region_id, 1, 5)) "
            f"FROM {Site._meta.db_table} "
            "WHERE kind = 'tps' AND active = %s GROUP BY SUBSTR(region_id, 1, 2)",
            [True],
        )
        rows = cursor.fetchall()
    return {p: (int(n), int(v), int(r), int(k)) for p, n, v, r, k in rows}


def rollup_check(rollup: Any, raw: dict[str, tuple[int, int, int, int]], world: World) -> list[str]:
    """The roll-up's TPS, voters and ballots (voters + reserve) per province against raw SQL."""
    from siaga.logistics.choices import ItemCategory

    ballot = next(i.pk for i in world.items.values() if i.category == ItemCategory.BALLOT)
    district = sum(
        r.quantity for r in world.rules if r.item_id == ballot and r.basis == "per_district"
    )
    problems = []
    for row in rollup.rows:
        tps, voters, reserve, kabupaten = raw.get(row.code, (0, 0, 0, 0))
        want = voters + reserve + district * kabupaten
        if (row.tps, row.voters) != (tps, voters) or row.items.get(ballot) != want:
            problems.append(
                f"roll-up {row.code}: {row.tps} TPS {row.voters} voters "
                f"{row.items.get(ballot)} ballots; raw SQL {tps} {voters} {want}"
            )
    if len(rollup.rows) != len(raw):
        problems.append(f"roll-up has {len(rollup.rows)} provinces, raw SQL {len(raw)}")
    return problems[:5]


# --- main ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--national",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also generate the national TPS registry (default: on PostgreSQL only)",
    )
    parser.add_argument("--province", default="16", help="province generated in full")
    parser.add_argument("--kabupaten", default="", help="reconciled (default: <province>.08)")
    parser.add_argument("--scans", type=int, default=50_000, help="scans ingested in all")
    parser.add_argument("--batch", type=int, default=1000, help="scans per ingest_scans call")
    parser.add_argument(
        "--clients",
        type=int,
        default=os.cpu_count() or 1,
        help="concurrent ingesting processes after the one-client run (default: one per CPU)",
    )
    parser.add_argument("--tps-scale", type=float, default=1.0, help="shrink the TPS counts")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--tracemalloc", action="store_true", help="Python's peak too (slow)")
    parser.add_argument("--no-verify", action="store_true", help="skip the ledger verification")
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite database afterwards (path printed)"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile the ingest into FILE, a reconciliation into FILE.reconcile",
    )
    args = parser.parse_args()
    national = args.national if args.national is not None else args.database == "postgres"
    kabupaten = args.kabupaten or f"{args.province}.08"
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-custody-"))
    if args.tracemalloc:
        tracemalloc.start()
    problems: list[str] = []
    try:
        started = time.perf_counter()
        vendor = setup_django(home, args.database)
        world = base_world(vendor, args.province, national)
        world.timings.append(
            ("migrate, regions, catalogue, units", time.perf_counter() - started, "")
        )
        generate_registry(world, args.province, national, args.tps_scale, args.seed)
        generate_province(world, args.province)
        if vendor == "postgresql":
            began = time.perf_counter()
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # what autovacuum does after a bulk load
            world.timings.append(("ANALYZE (planner statistics)", time.perf_counter() - began, ""))
        generator_rss = rss_mb()
        print(
            f"[{vendor}] generator (set-up, bulk-inserted directly: no services, no ledger "
            "entries for packing or dispatch); packages filled from needs.need_for_tps"
        )
        for label, seconds, rate in world.timings:
            print(f"  {label}: {seconds:.1f} s" + (f" ({rate})" if rate else ""))
        print(f"  peak RSS after the generator: {generator_rss:,.0f} MB")

        (receive, seals), plans = scan_plans(args.province, args.scans, args.clients)
        total = len(receive) + len(seals)
        print(
            f"\n  ingest: {len(receive):,} receive scans, then {len(seals):,} seal scans, in "
            f"batches of {args.batch}; then {args.clients} clients at once, "
            f"{sum(len(r) + len(s) for r, s in plans):,} scans of other BASTs "
            f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
        )
        base_before = baseline_insert(total, args.batch)
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        got_receive = ingest("receive", world, receive, args.batch)
        got_seal = ingest("seal", world, seals, args.batch)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        together = ingest_concurrently(world, plans, args.batch) if args.clients > 1 else None
        base_after = baseline_insert(total, args.batch)
        both = IngestResult(
            "all scans",
            got_receive.scans + got_seal.scans,
            got_receive.elapsed + got_seal.elapsed,
            got_receive.cpu + got_seal.cpu,
            got_receive.batch_seconds + got_seal.batch_seconds,
            got_receive.statuses + got_seal.statuses,
            got_receive.errors + got_seal.errors,
        )
        baseline = IngestResult(
            "raw executemany",
            base_before.scans + base_after.scans,
            base_before.elapsed + base_after.elapsed,
            base_before.cpu + base_after.cpu,
            base_before.batch_seconds + base_after.batch_seconds,
            base_before.statuses + base_after.statuses,
        )
        results = [base_before, got_receive, got_seal, both, together, base_after]
        for result in results:
            if result is not None:
                print("  " + result.line())
        for result in (both, together):
            if result is not None and set(result.statuses) != {201}:
                problems.append(f"scans answered {dict(result.statuses)}, not all 201")
        ingested = [(receive, seals)] + (plans if together is not None else [])
        problems += check_ingest(
            sum(len(r) for r, _s in ingested), sum(len(s) for _r, s in ingested)
        )

        print(f"\n  reconciliation of kabupaten {kabupaten} (median of {REPEAT} after a cold run):")
        from siaga.logistics.needs import needs_by_region, rollup_query
        from siaga.logistics.selectors import reconcile

        election = world.election
        raw, raw_cold, raw_warm = timed(lambda: raw_reconcile(kabupaten, election.pk))
        print(
            f"    raw SQL (3 aggregates): cold {raw_cold * 1000:7.1f} ms, warm "
            f"{raw_warm * 1000:7.1f} ms  ({raw['tps']:,} TPS, {raw['voters']:,} voters, "
            f"packages total/dispatched/received-at-TPS {raw['packages']})"
        )
        recon, cold, warm = timed(
            lambda: reconcile(user=world.actor, election=election, region=kabupaten)
        )
        if args.profile:
            import cProfile

            cProfile.runctx(
                "reconcile(user=world.actor, election=election, region=kabupaten)",
                globals(),
                {
                    "reconcile": reconcile,
                    "world": world,
                    "election": election,
                    "kabupaten": kabupaten,
                },
                args.profile + ".reconcile",
            )
        reconcile_ms, recon_raw_ms = warm * 1000, raw_warm * 1000
        print(
            f"    selectors.reconcile:    cold {cold * 1000:7.1f} ms, warm {warm * 1000:7.1f} ms"
            f"  ({warm / raw_warm:.1f}x raw SQL; {len(recon.tps):,} TPS rows)"
        )
        _rolled, roll_cold, roll_warm = timed(lambda: recon.children())
        print(
            f"    .children() roll-up to kecamatan: cold {roll_cold * 1000:.1f} ms, "
            f"warm {roll_warm * 1000:.1f} ms (on top)"
        )
        mine = reconcile_totals(recon)
        if mine != raw:
            problems.append(f"reconciliation totals differ from raw SQL: {mine} vs {raw}")
        else:
            print("    totals agree with raw SQL (TPS, voters, packages, items)")

        rollup_s: float | None = None
        rollup_raw_s = 0.0
        if national:
            print(f"\n  national needs roll-up by province (median of {ROLLUP_REPEAT} after cold):")
            raw_r, raw_cold, raw_warm = timed(raw_rollup, repeat=ROLLUP_REPEAT)
            print(
                f"    raw SQL aggregate:     cold {raw_cold:6.2f} s, warm {raw_warm:6.2f} s  "
                f"({len(raw_r)} provinces, {sum(v[0] for v in raw_r.values()):,} TPS, "
                f"{sum(v[1] for v in raw_r.values()):,} voters)"
            )
            query = rollup_query(world.rules, level=1, root="")

            def own_query() -> Any:
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute(query.sql, query.params)
                    return cursor.fetchall()

            _own, own_cold, own_warm = timed(own_query, repeat=ROLLUP_REPEAT)
            print(f"    its own query, raw:    cold {own_cold:6.2f} s, warm {own_warm:6.2f} s")
            rollup, cold, warm = timed(
                lambda: needs_by_region(world.rules, level=1, root=""), repeat=ROLLUP_REPEAT
            )
            rollup_s, rollup_raw_s = warm, raw_warm
            print(
                f"    needs.needs_by_region: cold {cold:6.2f} s, warm {warm:6.2f} s  "
                f"({warm / raw_warm:.2f}x raw SQL)"
            )
            found = rollup_check(rollup, raw_r, world)
            problems += found
            if not found:
                print("    TPS, voters and ballots per province agree with raw SQL")

        if not args.no_verify:
            from siaga.ledger import audit

            began = time.perf_counter()
            try:
                verified = audit.verify_database()
            except audit.Broken as exc:
                problems.append(f"ledger does not verify: {exc}")
            else:
                print(
                    f"\n  ledger verifies: {verified.entries:,} entries "
                    f"({time.perf_counter() - began:.1f} s)"
                )

        peak = rss_mb()
        target = TARGET_SCANS[vendor]
        print("\n  summary:")
        print(
            f"  generator peak RSS {generator_rss:,.0f} MB (whole run {peak:,.0f} MB)"
            + (
                f", Python heap peak {tracemalloc.get_traced_memory()[1] / 2**20:,.0f} MB"
                if args.tracemalloc
                else ""
            )
            + f"   target < {TARGET_RSS_MB} MB: {verdict(generator_rss < TARGET_RSS_MB)}"
            + (
                ""
                if args.tps_scale == 1 and national
                else "  (not the full size: national registry off or --tps-scale)"
            )
        )
        # The machine's ingest rate is the better of its two arrangements: PostgreSQL serves
        # several clients at once (the server's worker processes); SQLite writes one
        # transaction at a time, and clients at once only wait on each other.
        arrangements = [(both, "one client")]
        if together is not None:
            arrangements.append((together, f"{args.clients} clients at once"))
        judged = max(arrangements, key=lambda pair: pair[0].rate)[0]
        for result, label in arrangements:
            line = (
                f"  scan ingest, {label} {result.rate:,.0f}/s (raw executemany "
                f"{baseline.rate:,.0f}/s, ratio {result.rate / baseline.rate:.2f})"
            )
            if result is judged:
                line += f"   target >= {target:,}/s on {vendor}: {verdict(result.rate >= target)}"
            print(line)
        print(
            f"  kabupaten reconciliation {reconcile_ms:.1f} ms (raw SQL {recon_raw_ms:.1f} ms, "
            f"ratio {reconcile_ms / recon_raw_ms:.1f})   target < {TARGET_RECONCILE_MS:.0f} ms: "
            f"{verdict(reconcile_ms < TARGET_RECONCILE_MS)}"
        )
        if rollup_s is not None:
            note = "" if vendor == "postgresql" else " (the target is for PostgreSQL)"
            print(
                f"  national roll-up {rollup_s:.2f} s (raw SQL {rollup_raw_s:.2f} s, ratio "
                f"{rollup_s / rollup_raw_s:.2f})   target < {TARGET_ROLLUP_S:.0f} s: "
                f"{verdict(rollup_s < TARGET_ROLLUP_S)}{note}"
            )
        elif vendor == "postgresql":
            print(f"  national roll-up: not run (--no-national)   target < {TARGET_ROLLUP_S:.0f} s")
        if problems:
            print("  CORRECTNESS FAILED:")
            for problem in problems:
                print(f"    - {problem}")
            raise SystemExit(1)
    finally:
        if args.keep:
            print(f"  kept: SIAGA_HOME={home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

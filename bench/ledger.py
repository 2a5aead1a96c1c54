"""Ledger speed: append throughput against a plain INSERT, verify rate, and proof cost at scale.

    .venv/bin/python bench/ledger.py [--entries 100000] [--proof-entries 10000000]
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/ledger.py

Each figure is measured next to its baseline in the same run, so the ratios survive a noisy
machine. The database is a fresh one under a temporary SIAGA_HOME (SQLite) or the one named
by SIAGA_DATABASE_URL, which is emptied first (never point it at real data).

Targets (issue #3): batched append ≥ 0.5 × plain insert; verify ≥ 200,000 entries/s;
inclusion proof at 10 million entries under 5 ms, reading O(log n) rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siaga.ledger.services import Fact


def setup() -> str | None:
    """Django on a fresh database; returns the temporary home to remove afterwards, if any."""
    created = None
    if "SIAGA_HOME" not in os.environ:
        created = os.environ["SIAGA_HOME"] = tempfile.mkdtemp(prefix="siaga-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return created


def facts(n: int, offset: int = 0, *, personal_every: int = 0) -> list[Fact]:
    """Dispatch facts; with ``personal_every`` = k, every k-th carries a personal part (a
    visitor's name and masked NIK, as a gate entry does)."""
    from siaga.ledger.services import Fact

    return [
        Fact(
            kind="custody.dispatch",
            subject_type="logistics.package",
            subject_id=f"PKG-16.08.01-{(offset + i):06d}",
            payload={
                "bast": f"BAST-{(offset + i) // 100:05d}",
                "seals": [f"S{offset + i:08d}"],
                "to": "PPK Martapura",
                "count": 412,
            },
            actor="kpu.okut",
            unit="KPU Kabupaten OKU Timur",
            region="16.08.01",
            id=uuid.uuid4(),
            personal=(
                {"name": f"Pengunjung {offset + i}", "nik": f"************{i % 10_000:04d}"}
                if personal_every and i % personal_every == 0
                else None
            ),
            person=f"p{offset + i:012d}" if personal_every and i % personal_every == 0 else "",
        )
        for i in range(n)
    ]


def reset() -> None:
    from siaga.ledger.models import (
        Checkpoint,
        Cosignature,
        Entry,
        Head,
        Node,
        PayloadRedaction,
        PersonalPart,
    )

    Cosignature.objects.all().delete()
    Checkpoint.objects.all().delete()
    PersonalPart.objects.all().delete()
    PayloadRedaction.objects.all().delete()
    Entry.objects.all().delete()
    Node.objects.all().delete()
    Head.objects.update_or_create(pk=1, defaults={"size": 0})


def plain_table() -> str:
    """A table with the ledger entry's columns and indexes, and nothing else."""
    from django.db import connection

    from siaga.ledger.models import Entry

    name = "bench_plain_entry"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        with connection.schema_editor() as editor:
            sql, _params = editor.table_sql(Entry)
        cursor.execute(sql.replace(Entry._meta.db_table, name, 1))
        cursor.execute(f"CREATE UNIQUE INDEX {name}_id ON {name} (entry_id)")
        cursor.execute(f"CREATE INDEX {name}_region ON {name} (region)")
        cursor.execute(f"CREATE INDEX {name}_kind ON {name} (kind)")
        cursor.execute(f"CREATE INDEX {name}_subject ON {name} (subject_type, subject_id)")
    return name


def plain_rows(batch: list[Fact], start: int) -> list[tuple[Any, ...]]:
    from django.db import connection

    from siaga.ledger.encoding import canonical_json
    from siaga.ledger.models import Entry

    entry_id = Entry._meta.get_field("entry_id")
    recorded = Entry._meta.get_field("recorded_at")
    now = datetime.now(UTC)
    return [
        (
            start + i,
            entry_id.get_db_prep_value(f.id, connection),
            recorded.get_db_prep_value(now, connection),
            f.actor,
            f.unit,
            f.region,
            f.kind,
            f.subject_type,
            f.subject_id,
            canonical_json(f.payload).decode(),
            os.urandom(32),
        )
        for i, f in enumerate(batch)
    ]


def time_plain(table: str, batches: list[list[Fact]]) -> float:
    from django.db import connection, transaction

    from siaga.ledger.services import insert_rows

    # The same multi-row INSERT the ledger uses, so the two differ only in the ledger's work.
    sql = (
        f"INSERT INTO {table} (seq, entry_id, recorded_at, actor, unit, region, kind, "  # noqa: S608
        "subject_type, subject_id, payload, leaf_hash) VALUES "
    )
    start = 0
    began = time.perf_counter()
    for batch in batches:
        with transaction.atomic(), connection.cursor() as cursor:
            insert_rows(cursor, sql, plain_rows(batch, start))
        start += len(batch)
    return time.perf_counter() - began


def time_append(batches: list[list[Fact]]) -> float:
    from django.db import transaction

    from siaga.ledger.services import append_many

    began = time.perf_counter()
    for batch in batches:
        with transaction.atomic():
            append_many(batch, returning=False)
    return time.perf_counter() - began


def chunks(items: list[Fact], size: int) -> list[list[Fact]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def bench_append(n: int, singles: int) -> None:
    from django.db import connection

    table = plain_table()
    batched = facts(n)
    plain_s = time_plain(table, chunks(facts(n), 100))
    reset()
    append_s = time_append(chunks(batched, 100))
    print(f"[{connection.vendor}] append {n:,} entries in batches of 100:")
    print(f"  plain INSERT (same rows, same indexes): {n / plain_s:10,.0f} rows/s")
    print(f"  ledger append (hash, tree, head lock):  {n / append_s:10,.0f} entries/s")
    print(f"  ratio append / plain: {plain_s / append_s:.2f}  (target >= 0.50)")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    # The same batches with one entry in ten carrying a personal part (its salted hash in the
    # record, the part in its own table): what a busy gate's ledger looks like.
    personal_n = n // 5
    plain_p = time_plain(table, chunks(facts(personal_n, 2 * n), 100))
    append_p = time_append(chunks(facts(personal_n, 3 * n, personal_every=10), 100))
    print(f"[{connection.vendor}] append {personal_n:,} entries, 1 in 10 with a personal part:")
    print(
        f"  plain INSERT: {personal_n / plain_p:8,.0f} rows/s; ledger append: "
        f"{personal_n / append_p:8,.0f} entries/s; ratio {plain_p / append_p:.2f}"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    plain_single = time_plain(table, chunks(facts(singles, n), 1))
    append_single = time_append(chunks(facts(singles, n), 1))
    print(f"[{connection.vendor}] append {singles:,} entries one per transaction:")
    print(
        f"  plain INSERT: {singles / plain_single:8,.0f} rows/s; ledger append: "
        f"{singles / append_single:8,.0f} entries/s; ratio {plain_single / append_single:.2f}"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")


def bench_verify() -> None:
    from siaga.ledger import audit, services

    services.make_checkpoint()
    began = time.perf_counter()
    result = audit.verify_database()
    seconds = time.perf_counter() - began
    rate = result.entries / seconds
    print(
        f"verify: {result.entries:,} entries in {seconds:.2f} s = {rate:,.0f} entries/s "
        f"(one core; target >= 200,000): {'met' if rate >= 200_000 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=5_000)
    parser.add_argument("--proof-entries", type=int, default=10_000_000)
    parser.add_argument(
        "--proof-only",
        action="store_true",
        help="only the proofs, reusing a ledger already filled to --proof-entries (the "
        "database named by SIAGA_DATABASE_URL, or SIAGA_HOME's)",
    )
    args = parser.parse_args()
    home = setup()
    try:
        if not args.proof_only:
            reset()
            bench_append(args.entries, args.singles)
            bench_verify()
        if args.proof_entries:
            from bench_proof import bench_proof

            bench_proof(args.proof_entries, reuse=args.proof_only)
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()

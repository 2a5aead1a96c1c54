"""Look-up by NIK with personal data encrypted at rest, against the plain query it replaced.

    .venv/bin/python bench/privacy.py [--people 20000] [--lookups 2000]
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/privacy.py

Set-up: the OKU Timur and OKU regions, a Polri guard of OKU Timur with an API token, and
``--people`` persons, each with a record in OKU Timur and every fifth one in OKU too (NIK,
phone and photo encrypted, the NIK found by its keyed hash, as ``siaga demo`` and the gate
write them). The database is a fresh SQLite one under a temporary SIAGA_HOME, or the one
SIAGA_DATABASE_URL names, which is emptied first (never point it at real data).

Measured in the same run, each ``--lookups`` times over random people:

1. the plain query: ``SELECT`` of name, organisation and phone by NIK from a table holding the
   NIK and the phone in the clear, with an index on the NIK (what the look-up did before);
2. ``services.lookup_visitor``: keyed hash, own-region records, throttle count, the look-up
   log row, and decrypting the phone;
3. ``POST /api/v1/visitors/lookup`` through Django's test client with the guard's token: the
   whole request, authentication and the JSON answer included;
4. ``GET /api/v1/auth/me`` through the same client, the trivial authenticated endpoint.

Target (issue #21): the look-up by NIK (3) under 20 ms p95 with encryption at rest.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_P95_MS = 20.0
GUARD = "jaga.okut"


def setup() -> str | None:
    """Django on a fresh database; returns the temporary home to remove afterwards, if any."""
    created = None
    if "SIAGA_HOME" not in os.environ:
        created = os.environ["SIAGA_HOME"] = tempfile.mkdtemp(prefix="siaga-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    # The throttle is part of what is measured (its count runs on every look-up), but the
    # bench's one guard must not be refused by it.
    os.environ["SIAGA_LOOKUP_LIMIT"] = "1000000000"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    return created


def nik_of(i: int) -> str:
    """A NIK that validates: Kecamatan 16.08.01, a birth date in 1990, a serial."""
    day, serial = (i // 9999) % 28 + 1, i % 9999 + 1
    return f"160801{day:02d}0190{serial:04d}"


def populate(people: int) -> tuple[str, list[str]]:
    """The guard's raw API token and the NIKs of everyone registered."""
    from django.db import transaction

    from siaga.access.models import Person, Visitor, nik_lookup_hash
    from siaga.access.services.ledgering import person_ref
    from siaga.accounts.choices import AgencyKind, Role
    from siaga.accounts.models import Agency, AgencyUnit, User
    from siaga.accounts.nik import validate_nik
    from siaga.accounts.services import add_membership, issue_api_token
    from siaga.regions.services import load_regions

    load_regions()
    with transaction.atomic():
        agency = Agency.objects.create(kind=AgencyKind.POLRI, name="Polri")
        unit = AgencyUnit.objects.create(agency=agency, region_id="16.08", name="Polres OKU Timur")
        guard = User.objects.create_user(username=GUARD, password=uuid.uuid4().hex)
        add_membership(actor=None, user=guard, unit=unit, role=Role.GUARD)
        _token, raw = issue_api_token(actor=guard, name="bench")
    niks = [nik_of(i) for i in range(people)]
    for start in range(0, people, 2000):
        chunk = niks[start : start + 2000]
        with transaction.atomic():
            persons = Person.objects.bulk_create(
                [Person(nik_hash=nik_lookup_hash(nik), nik=nik) for nik in chunk]
            )
            records = []
            for offset, (nik, person) in enumerate(zip(chunk, persons, strict=True)):
                regions = ["16.08"] + (["16.01"] if (start + offset) % 5 == 0 else [])
                records += [
                    Visitor(
                        person=person,
                        region=region,
                        nik_masked=validate_nik(nik).masked,
                        person_ref=person_ref(nik),
                        name=f"Pengunjung {start + offset}",
                        organisation="CV Angkut Logistik",
                        phone=f"+62812{start + offset:08d}",
                    )
                    for region in regions
                ]
            Visitor.objects.bulk_create(records)
    return raw, niks


def plain_table(niks: list[str]) -> str:
    """The look-up as it was: NIK and phone in the clear, an index on the NIK."""
    from django.db import connection

    table = "bench_plain_visitor"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TABLE {table} (id integer PRIMARY KEY, nik varchar(16) NOT NULL UNIQUE, "
            "name varchar(150) NOT NULL, organisation varchar(150) NOT NULL, "
            "phone varchar(20) NOT NULL, watchlisted boolean NOT NULL)"
        )
        cursor.executemany(
            f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)",  # noqa: S608
            [
                (i, nik, f"Pengunjung {i}", "CV Angkut Logistik", f"+62812{i:08d}", False)
                for i, nik in enumerate(niks)
            ],
        )
    return table


def timed(samples: int, call: Callable[[int], Any]) -> list[float]:
    for i in range(min(50, samples)):  # warm-up: caches, prepared statements, imports
        call(i)
    out = []
    for i in range(samples):
        began = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    home = setup()
    try:
        from django.db import connection
        from django.test import Client

        from siaga.access import services
        from siaga.accounts.models import User
        from siaga.privacy.models import LookupLog

        raw, niks = populate(args.people)
        table = plain_table(niks)
        guard = User.objects.get(username=GUARD)
        rng = random.Random(21)
        picks = [rng.choice(niks) for _ in range(args.lookups + 50)]
        client = Client(headers={"authorization": f"Bearer {raw}"}, SERVER_NAME="localhost")

        def plain(i: int) -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT name, organisation, phone, watchlisted FROM {table} WHERE nik = %s",  # noqa: S608
                    [picks[i]],
                )
                assert cursor.fetchone() is not None

        def service(i: int) -> None:
            visitor = services.lookup_visitor(actor=guard, nik=picks[i])
            assert visitor.phone.startswith("+62")

        def api(i: int) -> None:
            response = client.post(
                "/api/v1/visitors/lookup", {"nik": picks[i]}, content_type="application/json"
            )
            assert response.status_code == 200, response.content
            assert response.json()["phone"].startswith("+62")

        def me(i: int) -> None:
            assert client.get("/api/v1/auth/me").status_code == 200

        figures = {
            "plain query (NIK and phone in the clear)": timed(args.lookups, plain),
            "services.lookup_visitor (encrypted, logged)": timed(args.lookups, service),
            "POST /api/v1/visitors/lookup": timed(args.lookups, api),
            "GET /api/v1/auth/me (trivial endpoint)": timed(args.lookups, me),
        }
        logged = LookupLog.objects.filter(answer="found").count()
        print(
            f"[{connection.vendor}] {args.people:,} people ({args.people // 5:,} also in OKU), "
            f"{args.lookups:,} look-ups each, {logged:,} look-ups logged"
        )
        base = statistics.median(figures["plain query (NIK and phone in the clear)"])
        for name, values in figures.items():
            print(
                f"  {name:46} median {statistics.median(values):7.3f} ms  "
                f"p95 {p95(values):7.3f} ms  ({statistics.median(values) / base:6.1f} x plain)"
            )
        lookup_p95 = p95(figures["POST /api/v1/visitors/lookup"])
        verdict = "met" if lookup_p95 < TARGET_P95_MS else "MISSED"
        print(
            f"look-up by NIK p95 {lookup_p95:.2f} ms (target < {TARGET_P95_MS:.0f} ms): {verdict}"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()

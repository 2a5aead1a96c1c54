"""How long ``siaga regions load`` takes on SQLite, against a raw-SQLite baseline.

The issue asks for under a minute on SQLite. The baseline inserts the same 91,599 rows with the
standard library's sqlite3 into a WAL database in the same run, so the ratio survives a noisy
machine. Run: ``.venv/bin/python bench/regions_load.py``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-"))
    os.environ["SIAGA_HOME"] = str(home)
    os.environ.pop("SIAGA_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from siaga.regions.services import load_regions, walk_source

    call_command("migrate", verbosity=0)

    started = time.perf_counter()
    rows = [(w.code, w.name, w.level, w.type, w.postal_code or "") for w in walk_source()]
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    baseline = sqlite3.connect(home / "baseline.sqlite3")
    baseline.execute("PRAGMA journal_mode=WAL")
    baseline.execute(
        "CREATE TABLE region (code TEXT PRIMARY KEY, name TEXT, level INT, kind TEXT, pc TEXT)"
    )
    with baseline:
        baseline.executemany("INSERT INTO region VALUES (?, ?, ?, ?, ?)", rows)
    baseline.close()
    raw_s = read_s + time.perf_counter() - started

    started = time.perf_counter()
    first = load_regions()
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = load_regions()
    second_s = time.perf_counter() - started

    print(f"regions in data:               {first.total}")
    print(f"baseline (read + raw insert):  {raw_s:6.2f} s")
    print(
        f"siaga regions load, fresh:     {first_s:6.2f} s  ({first_s / raw_s:.1f}x baseline)"
        f"  created={first.created}"
    )
    print(
        f"siaga regions load, again:     {second_s:6.2f} s  ({second_s / raw_s:.1f}x baseline)"
        f"  created={second.created} updated={second.updated}"
    )
    print(f"target: fresh load under 60 s: {'met' if first_s < 60 else 'MISSED'}")
    sys.exit(0 if first_s < 60 else 1)


if __name__ == "__main__":
    main()

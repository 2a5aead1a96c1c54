"""A full disk under a running ``siaga serve``: the API answers its JSON 503 (never an HTML
500), nothing is half written, /readyz says which checks fail, and writes resume by themselves
once there is room again. SIAGA_HOME lies on a small tmpfs that the test fills."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo.test_demo import free_port

PASSWORD = "a long enough password 42"


def _mount(size_mb: int) -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="siaga-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        where.rmdir()
        reason = f"mounting a tmpfs was refused ({mounted.stderr.strip()})"
        if os.environ.get("SIAGA_REQUIRE_TMPFS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


@pytest.fixture
def small_disk() -> Iterator[Path]:
    yield from _mount(48)


def call(method: str, url: str, body: Any = None) -> tuple[int, str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, response.headers["Content-Type"], json.loads(raw or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        kind = error.headers["Content-Type"] or ""
        return error.code, kind, json.loads(raw) if "json" in kind else raw.decode()


def test_a_full_disk_answers_json_503_and_writes_resume(small_disk: Path) -> None:
    home = small_disk / "home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    environment |= {"SIAGA_HOME": str(home), "SIAGA_READY_MIN_FREE_MB": "4"}
    siaga = [sys.executable, "-m", "siaga.cli"]
    for command in (
        ["migrate", "-v", "0"],
        [
            "shell",
            "-c",
            "from siaga.accounts.models import User; "
            f"User.objects.create_user('gudang', password='{PASSWORD}')",
        ],
    ):
        done = subprocess.run([*siaga, *command], env=environment, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr
    database = home / "siaga.sqlite3"
    with sqlite3.connect(database) as db:  # an empty WAL: the next write must grow the file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    port = free_port()
    server = subprocess.Popen(
        [*siaga, "serve", "--port", str(port), "--workers", "1"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    credentials = {"username": "gudang", "password": PASSWORD}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call("GET", f"{base}/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "siaga serve did not start"
            time.sleep(0.3)
        status, _, first = call("POST", f"{base}/api/v1/auth/token", credentials)
        assert status == 201, first
        ready = call("GET", f"{base}/readyz")[2]
        assert {c["name"]: c["ok"] for c in ready["checks"]}["database"] is True

        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as out:  # fill the disk to its last byte
            for size in (1 << 20, 4096, 1):
                try:
                    while out.write(b"\0" * size):
                        pass
                except OSError:
                    pass
        answers = [call("POST", f"{base}/api/v1/auth/token", credentials) for _ in range(5)]
        for status, kind, body in answers:
            assert (status, kind) == (503, "application/json; charset=utf-8"), (status, body)
            assert body["code"] == "database_unavailable"
        status, _, ready = call("GET", f"{base}/readyz")
        assert status == 503
        checks = {c["name"]: c["ok"] for c in ready["checks"]}
        assert (checks["database"], checks["disk"]) == (False, False)

        filler.unlink()
        status, _, second = call("POST", f"{base}/api/v1/auth/token", credentials)
        assert status == 201, second
        ready = call("GET", f"{base}/readyz")[2]
        checks = {c["name"]: c["ok"] for c in ready["checks"]}
        assert (checks["database"], checks["disk"]) == (True, True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    with sqlite3.connect(database) as db:
        # The two answered 201, none of the five refused: nothing half written.
        assert db.execute("SELECT count(*) FROM accounts_apitoken").fetchone()[0] == 2

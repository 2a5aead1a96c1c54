"""SQLite connections are kept between requests; a database file put in place of the one a
kept connection opened (a restore, an older copy put back) is what the next request reads."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.demo.test_demo import free_port
from tests.ops.test_full_disk import PASSWORD, call


@pytest.mark.skipif(
    os.environ.get("SIAGA_DATABASE_URL", "").startswith("postgres"),
    reason="the same on both: this test runs a server of its own on SQLite",
)
def test_a_replaced_database_file_is_read_by_the_next_request() -> None:
    home = Path(tempfile.mkdtemp(prefix="siaga-replaced-"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    environment |= {"SIAGA_HOME": str(home)}
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
        subprocess.run([*siaga, *command], env=environment, check=True, timeout=600)
    port = free_port()
    server = subprocess.Popen(
        [*siaga, "serve", "--port", str(port), "--workers", "1", "--threads", "1"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    credentials = {"username": "gudang", "password": PASSWORD}
    database = home / "siaga.sqlite3"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "siaga serve did not start"
            time.sleep(0.3)
        status, _, first = call("POST", f"{base}/api/v1/auth/token", credentials)
        assert status == 201
        copy = home / "copy.sqlite3"
        with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
            source.backup(target)  # holds the first token only
        status, _, second = call("POST", f"{base}/api/v1/auth/token", credentials)
        assert status == 201

        def me(token: str) -> int:
            request = urllib.request.Request(
                f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as error:
                return int(error.code)

        assert me(second["token"]) == 200  # the kept connection, on the file as it was
        os.replace(copy, database)
        for leftover in ("siaga.sqlite3-wal", "siaga.sqlite3-shm"):
            (home / leftover).unlink(missing_ok=True)
        assert me(second["token"]) == 401  # the file put back does not know it
        assert me(first["token"]) == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

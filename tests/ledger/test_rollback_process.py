"""The rollback as an operator meets it: real ``siaga`` processes on a real SQLite file, the
file copied away after a checkpoint and copied back after 20 more entries. Its own database
and SIAGA_HOME, on whichever database the suite runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

GROW = """
from django.db import transaction
from siaga.ledger import services
with transaction.atomic():
    for i in range({n}):
        services.append(kind="test.fact", subject=("test.thing", str(i)), payload={{"n": i}},
                        actor="kpu.okut", region="16.08.01")
print(services.make_checkpoint().size)
"""

APPEND = """
from django.db import transaction
from siaga.ledger import services
from siaga.ledger.rollback import LedgerRolledBack
try:
    with transaction.atomic():
        services.append(kind="test.fact", subject=("test.thing", "x"), actor="kpu.okut")
except LedgerRolledBack as exc:
    print(exc.status, exc.code)
print(services.tree_size())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_sqlite_file_put_back_is_caught_and_decided_across_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = tmp_path / "siaga.sqlite3"
    env = {
        **os.environ,
        "SIAGA_HOME": str(home),
        "SIAGA_DATABASE_URL": f"sqlite:///{database}",
    }

    def siaga(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "siaga.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def files(path: Path) -> list[Path]:
        return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]

    assert siaga("migrate", "-v0").returncode == 0
    assert siaga("createsuperuser", "--noinput", "--username", "admin.okut",
                 "--email", "admin@example.org").returncode == 0  # fmt: skip
    made = siaga("shell", "-v0", "-c", GROW.format(n=13))
    assert made.stdout.split() == ["13"], made.stderr
    backup = tmp_path / "backup"
    backup.mkdir()
    for file in files(database):  # the operator's nightly copy (no process has it open)
        if file.exists():
            shutil.copy2(file, backup / file.name)
    assert siaga("shell", "-v0", "-c", GROW.format(n=20)).stdout.split() == ["33"]
    kept = json.loads((home / "ledger" / "checkpoint.json").read_text())
    assert kept["size"] == 33
    (tmp_path / "kept.txt").write_text(kept["note"])
    # The disk fails; the copy is put back.
    for file in files(database):
        file.unlink(missing_ok=True)
    for file in backup.iterdir():
        shutil.copy2(file, tmp_path / file.name)

    # The worker and the web server look when they start.
    worker = siaga("worker", "--batch", "--no-deliveries")
    assert worker.returncode == 0, worker.stderr
    assert "LEDGER ROLLED BACK: the ledger holds 13 entries but checkpoint 33 was signed on " in (
        worker.stderr
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "siaga.cli", "serve", "--port", str(free_port()), "--workers", "1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert first.startswith("LEDGER ROLLED BACK: the ledger holds 13 entries but checkpoint 33")

    verify = siaga("ledger", "verify")
    assert verify.returncode == 1
    assert verify.stdout.startswith(
        "FAIL: the ledger holds 13 entries but checkpoint 33 was signed on "
    )
    refused = siaga("shell", "-v0", "-c", APPEND)
    assert refused.stdout.split("\n")[:2] == ["503 ledger_rolled_back", "13"], refused.stderr

    accepted = siaga("ledger", "accept-rollback", "--reason", "disk failed; nightly copy",
                     "--by", "admin.okut")  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.split("\n")[:2] == [
        "Accepted: entries 13..32 (20) are lost; the decision is entry 33; writes resume.",
        "Signed checkpoint 34.",
    ]
    assert siaga("shell", "-v0", "-c", APPEND).stdout.split() == ["35"]
    verify = siaga("ledger", "verify")
    assert verify.returncode == 0, verify.stdout
    assert verify.stdout.startswith("OK: 35 entries")

    assert siaga("ledger", "export", str(tmp_path / "ledger.jsonl")).returncode == 0
    (tmp_path / "instance.vkey").write_text(siaga("ledger", "key").stdout.strip())
    standalone = subprocess.run(
        [
            sys.executable, "-m", "siaga.ledger.verify", str(tmp_path / "ledger.jsonl"),
            "--key", f"@{tmp_path / 'instance.vkey'}", "--checkpoint", str(tmp_path / "kept.txt"),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert standalone.returncode == 0, standalone.stdout
    assert "20 lost (seq 13..32, a rollback accepted at seq 33)" in standalone.stdout

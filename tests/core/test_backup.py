"""Backups that prove themselves: ``siaga backup`` and ``siaga restore`` as real processes on
the suite's (committed) database, restored into a new SIAGA_HOME and, on PostgreSQL, into a
database created and dropped here; and the scheduled ``backup_if_due`` with its retention."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection

from siaga.accounts.models import User
from siaga.core.backup import backup_if_due, prune
from siaga.core.backup.schedule import LOCK_FILE, archives
from siaga.ledger import keys, note
from siaga.ledger import services as ledger
from siaga.ledger.models import Checkpoint, Entry
from siaga.sites.choices import ZoneKind
from siaga.sites.services import create_zone
from tests.conftest import World

PASSPHRASE = "ballot boxes stay dry"
WITNESS = "bawaslu-okut-backup"
KEY_FILES = ("secret_key", "data_key", "ledger_ed25519.pem")
sqlite_only = pytest.mark.skipif(
    os.environ.get("SIAGA_DATABASE_URL", "sqlite").startswith("postgres"),
    reason="the SQLite path: the suite runs on PostgreSQL (the postgres tests cover it there)",
)


def suite_url() -> str:
    """The suite's test database as a URL, for the processes these tests start."""
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        return pg_url(str(settings_dict["NAME"]))
    return f"sqlite:///{settings_dict['NAME']}"


def pg_url(name: str) -> str:
    settings_dict = connection.settings_dict
    user = settings_dict["USER"] or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def siaga(
    *args: str | Path, home: Path, database_url: str | None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, SIAGA_HOME=str(home))
    environment.pop("SIAGA_DATABASE_URL", None)
    if database_url is not None:
        environment["SIAGA_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "siaga.cli", *map(str, args)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def source_home(tmp_path: Path) -> Path:
    """A SIAGA_HOME for the backing-up process: the suite's keys (the ledger key signs the
    suite's checkpoints) and two media files."""
    keys.signing_key()  # made now if the suite never signed
    home = tmp_path / "source"
    (home / "media" / "incidents").mkdir(parents=True)
    for name in KEY_FILES:
        shutil.copy2(Path(settings.SIAGA_HOME) / name, home / name)
    (home / "media" / "incidents" / "leak.jpg").write_bytes(os.urandom(70_000))
    (home / "media" / "visitor.png").write_bytes(b"\x89PNG not really")
    (home / "passphrase").write_text(PASSPHRASE + "\n")
    return home


@pytest.fixture
def restorer_home(tmp_path: Path) -> Path:
    """The SIAGA_HOME of the restoring process itself (not the target)."""
    return tmp_path / "restorer"


@dataclass
class Target:
    home: Path
    database_url: str | None
    args: list[str]
    tables: Callable[[], int]
    query: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    """Where a restore goes: a new SIAGA_HOME and, on PostgreSQL, a database of its own."""
    home = tmp_path / "restored"
    if connection.vendor != "postgresql":
        database = home / "siaga.sqlite3"

        def sqlite_query(sql: str) -> list[tuple[Any, ...]]:
            db = sqlite3.connect(database)
            try:
                rows = db.execute(sql).fetchall()
                db.commit()
                return rows
            finally:
                db.close()

        def sqlite_tables() -> int:
            if not database.exists():
                return 0
            return len(sqlite_query("SELECT name FROM sqlite_master WHERE type = 'table'"))

        yield Target(home, None, [], sqlite_tables, sqlite_query)
        return
    import psycopg

    name = f"siaga_restore_{uuid.uuid4().hex[:10]}"
    params = {
        "host": connection.settings_dict["HOST"] or "127.0.0.1",
        "port": connection.settings_dict["PORT"] or 5432,
        "user": connection.settings_dict["USER"],
        "password": connection.settings_dict["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def pg_query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dbname=name, **params) as db:
            cursor = db.execute(sql)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def pg_tables() -> int:
        return len(pg_query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))

    try:
        url = pg_url(name)
        yield Target(home, url, ["--database-url", url], pg_tables, pg_query)
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backup(source_home: Path, to: Path, *extra: str | Path) -> tuple[Path, str, str]:
    result = siaga("backup", "--to", to, *extra, home=source_home, database_url=suite_url())
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.splitlines()[0])
    assert path.parent == to.resolve()
    return path, result.stdout, result.stderr


def restore(archive: Path, target: Target, restorer: Path, *extra: str | Path) -> Any:
    return siaga(
        "restore",
        archive,
        "--into-home",
        target.home,
        *target.args,
        *extra,
        home=restorer,
        database_url=None,
    )


def manifest_of(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        reader = tar.extractfile("manifest.json")
        assert reader is not None
        manifest: dict[str, Any] = json.load(reader)
    return manifest


def rewrite(
    archive: Path, out: Path, change: Callable[[str, bytes], bytes], *, rehash: bool
) -> None:
    """A copy of a plain archive with members changed; ``rehash`` makes the manifest agree
    (an attacker's copy), else the manifest stays the original's."""
    with tarfile.open(archive) as tar:
        members = []
        for info in tar.getmembers():
            reader = tar.extractfile(info)
            assert reader is not None
            members.append((info, change(info.name, reader.read())))
    if rehash:
        manifest = json.loads(members[-1][1])
        for info, data in members[:-1]:
            manifest["members"][info.name] = {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        members[-1] = (members[-1][0], json.dumps(manifest).encode())
    with tarfile.open(out, "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def cosign_latest(bawaslu: User) -> Checkpoint:
    """Sign a checkpoint now and have Bawaslu's witness co-sign it through the services."""
    checkpoint = ledger.make_checkpoint()
    assert checkpoint is not None
    witness = Ed25519PrivateKey.generate()
    vkey = note.verifier_key(WITNESS, note.public_bytes(witness.public_key()), note.COSIGNATURE_V1)
    ledger.register_witness_key(actor=bawaslu, vkey=vkey)
    parsed, _sigs = note.parse(checkpoint.note)
    line = note.cosign(parsed, WITNESS, witness, int(time.time())).line()
    ledger.add_cosignature(actor=bawaslu, size=checkpoint.size, signature_line=line)
    return checkpoint


class Writer(threading.Thread):
    """Creates zones through the sites service (a row and a ledger entry per commit) until
    stopped; ``committed`` lists the names whose transaction committed."""

    def __init__(self, actor: User, site_id: uuid.UUID) -> None:
        super().__init__(daemon=True)
        self.actor, self.site_id = actor, site_id
        self.stop = threading.Event()
        self.committed: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                name = f"Backup zone {n}"
                create_zone(
                    actor=self.actor, site_id=self.site_id, name=name, kind=ZoneKind.STORAGE
                )
                self.committed.append(name)
                n += 1
                time.sleep(0.01)
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def wait_for(writer: Writer, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(writer.committed) < count:
        assert writer.error is None, writer.error
        assert time.monotonic() < deadline, "the writer did not write"
        time.sleep(0.02)


def _backup_while_writing_then_restore(
    world: World, admin: User, bawaslu: User, source_home: Path, tmp_path: Path, target: Target
) -> None:
    cosigned = cosign_latest(bawaslu)
    writer = Writer(admin, world.warehouse_okut.pk)
    writer.start()
    try:
        wait_for(writer, 5)
        before = list(writer.committed)
        entries_before = ledger.tree_size()
        archive, stdout, _stderr = backup(
            source_home, tmp_path / "backups", "--passphrase-file", source_home / "passphrase"
        )
        during = len(writer.committed) - len(before)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert writer.error is None, writer.error
    # The writer kept committing while the backup ran: the copy was taken under load.
    assert during > 0
    assert archive.name.endswith(".tar.enc")
    assert "encrypted, keys included" in stdout
    assert "co-signatures" in stdout

    result = restore(
        archive, target, tmp_path / "restorer", "--passphrase-file", source_home / "passphrase"
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "OK: the restore is verified and usable." in result.stdout
    assert "1 co-signatures verified" in result.stdout
    # Every zone committed before the backup began is in the restored database.
    restored_zones = {
        name for (name,) in target.query("SELECT name FROM sites_zone WHERE name LIKE 'Backup%'")
    }
    assert set(before) <= restored_zones
    assert restored_zones <= set(writer.committed)
    (restored_size,) = target.query("SELECT size FROM ledger_head")[0]
    assert restored_size >= entries_before
    restored_checkpoints = {size for (size,) in target.query("SELECT size FROM ledger_checkpoint")}
    assert cosigned.size in restored_checkpoints
    # The media and keys came back byte for byte; the restore says it was verified.
    for name in ("media/incidents/leak.jpg", "media/visitor.png", *KEY_FILES):
        assert (target.home / name).read_bytes() == (source_home / name).read_bytes()
    status = json.loads((target.home / "restore.json").read_text())
    assert status["status"] == "verified"
    assert status["archive"] == str(archive)
    assert not list(target.home.glob(".restore-*"))
    # An independent check: the restored instance's own `siaga ledger verify`.
    verify = siaga("ledger", "verify", home=target.home, database_url=target.database_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith(f"OK: {restored_size} entries")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_backup_while_writers_write_restores_every_committed_row_and_its_ledger(
    world: World,
    admin_okut: User,
    bawaslu_okut: User,
    source_home: Path,
    tmp_path: Path,
    target: Target,
) -> None:
    _backup_while_writing_then_restore(
        world, admin_okut, bawaslu_okut, source_home, tmp_path, target
    )
    assert (target.home / "siaga.sqlite3").is_file()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_backup_while_writers_write_restores_every_committed_row_and_its_ledger(
    world: World,
    admin_okut: User,
    bawaslu_okut: User,
    source_home: Path,
    tmp_path: Path,
    target: Target,
) -> None:
    _backup_while_writing_then_restore(
        world, admin_okut, bawaslu_okut, source_home, tmp_path, target
    )
    assert not (target.home / "siaga.sqlite3").exists()


def _refuses_a_non_empty_database(source_home: Path, tmp_path: Path, target: Target) -> None:
    archive, _out, _err = backup(source_home, tmp_path / "backups", "--include-keys")
    first = restore(archive, target, tmp_path / "restorer")
    assert first.returncode == 0, first.stderr + first.stdout
    zones = target.query("SELECT count(*) FROM sites_zone")
    status = (target.home / "restore.json").read_text()
    # Something written after the first restore must survive the refused second one.
    target.query("DELETE FROM sites_zone WHERE name = 'Gerbang utama'")
    after_delete = target.query("SELECT count(*) FROM sites_zone")
    assert after_delete[0][0] == zones[0][0] - 1

    again = restore(archive, target, tmp_path / "restorer")
    assert again.returncode == 1
    assert "restore_target_not_empty" in again.stderr
    assert target.query("SELECT count(*) FROM sites_zone") == after_delete
    assert (target.home / "restore.json").read_text() == status
    assert not list(target.home.glob(".restore-*"))

    forced = restore(archive, target, tmp_path / "restorer", "--force")
    assert forced.returncode == 0, forced.stderr + forced.stdout
    assert target.query("SELECT count(*) FROM sites_zone") == zones


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_restore_over_a_non_empty_database_is_refused_without_force(
    world: World, source_home: Path, tmp_path: Path, target: Target
) -> None:
    _refuses_a_non_empty_database(source_home, tmp_path, target)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_restore_over_a_non_empty_database_is_refused_without_force(
    world: World, source_home: Path, tmp_path: Path, target: Target
) -> None:
    _refuses_a_non_empty_database(source_home, tmp_path, target)


@pytest.mark.django_db(transaction=True)
def test_a_tampered_archive_member_is_refused_and_nothing_is_restored(
    world: World, source_home: Path, tmp_path: Path, restorer_home: Path, target: Target
) -> None:
    archive, _out, _err = backup(source_home, tmp_path / "backups", "--include-keys")
    assert manifest_of(archive)["members"]["media/visitor.png"]["size"] == 15

    def flip(name: str, data: bytes) -> bytes:
        return data.replace(b"not really", b"not REALLY") if name == "media/visitor.png" else data

    tampered = tmp_path / "tampered.tar"
    rewrite(archive, tampered, flip, rehash=False)
    result = restore(tampered, target, restorer_home)
    assert result.returncode == 1
    assert "backup_member_tampered" in result.stderr
    assert "media/visitor.png" in result.stderr
    assert not target.home.exists()
    assert target.tables() == 0


@pytest.mark.django_db(transaction=True)
def test_a_wrong_passphrase_and_a_damaged_encrypted_archive_are_refused(
    world: World, source_home: Path, tmp_path: Path, restorer_home: Path, target: Target
) -> None:
    archive, _stdout, _err = backup(
        source_home, tmp_path / "backups", "--passphrase-file", source_home / "passphrase"
    )
    data = archive.read_bytes()
    assert b"SQLite format" not in data and b"PGDMP" not in data
    wrong = tmp_path / "wrong"
    wrong.write_text("ballot boxes stay wet\n")
    result = restore(archive, target, restorer_home, "--passphrase-file", wrong)
    assert result.returncode == 1
    assert "backup_passphrase_wrong" in result.stderr
    assert not target.home.exists()

    missing = restore(archive, target, restorer_home)
    assert missing.returncode == 1
    assert "backup_passphrase_required" in missing.stderr

    damaged = tmp_path / archive.name
    middle = len(data) // 2
    damaged.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
    result = restore(
        damaged, target, restorer_home, "--passphrase-file", source_home / "passphrase"
    )
    assert result.returncode == 1
    assert "backup_corrupt" in result.stderr
    cut = tmp_path / ("cut-" + archive.name)
    cut.write_bytes(data[: len(data) - (len(data) % (1 << 20)) - 1])
    result = restore(cut, target, restorer_home, "--passphrase-file", source_home / "passphrase")
    assert result.returncode == 1
    assert "backup_corrupt" in result.stderr
    assert not target.home.exists()
    assert target.tables() == 0


@sqlite_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("sql", "code"),
    [
        (
            # Rolled back behind the checkpoint, the tail removed with care: the shorter chain
            # verifies on its own, only the manifest's checkpoint catches it.
            "DELETE FROM ledger_cosignature; DELETE FROM ledger_witnesskey;"
            "DELETE FROM ledger_checkpoint; DELETE FROM ledger_personalpart;"
            "DELETE FROM ledger_payloadredaction; DELETE FROM ledger_node;"
            "DELETE FROM ledger_entry; UPDATE ledger_head SET size = 0;",
            "restore_ledger_behind_checkpoint",
        ),
        ("UPDATE ledger_entry SET actor = 'someone else' WHERE seq = 3;", "restore_ledger_broken"),
    ],
    ids=["rolled-back", "edited"],
)
def test_a_database_whose_ledger_does_not_match_is_refused_though_its_hashes_agree(
    world: World,
    bawaslu_okut: User,
    source_home: Path,
    tmp_path: Path,
    restorer_home: Path,
    target: Target,
    sql: str,
    code: str,
) -> None:
    cosign_latest(bawaslu_okut)
    archive, _out, _err = backup(source_home, tmp_path / "backups", "--include-keys")

    def falsify(name: str, data: bytes) -> bytes:
        if name != "database/siaga.sqlite3":
            return data
        path = tmp_path / "falsified.sqlite3"
        path.write_bytes(data)
        db = sqlite3.connect(path)
        db.executescript(sql)
        db.commit()
        db.close()
        return path.read_bytes()

    forged = tmp_path / "forged.tar"
    rewrite(archive, forged, falsify, rehash=True)
    result = restore(forged, target, restorer_home)
    assert result.returncode == 1, result.stdout
    assert code in result.stderr
    assert not target.home.exists()


@pytest.mark.django_db(transaction=True)
def test_an_unencrypted_backup_leaves_the_keys_out_and_its_restore_needs_them(
    world: World, source_home: Path, tmp_path: Path, restorer_home: Path, target: Target
) -> None:
    archive, _out, stderr = backup(source_home, tmp_path / "backups")
    manifest = manifest_of(archive)
    assert manifest["keys"]["included"] is False
    # No key; the ledger's kept checkpoint (no secret) travels with its database.
    home_members = [name for name in manifest["members"] if name.startswith("home/")]
    assert home_members == ["home/ledger/checkpoint.json"]
    assert "data_key tidak termasuk dalam arsip cadangan tanpa enkripsi ini" in stderr
    assert archive.name.endswith(".tar")

    result = restore(archive, target, restorer_home)
    assert result.returncode == 1
    assert "restore_ledger_key_missing" in result.stderr
    assert not target.home.exists()

    target.home.mkdir()
    shutil.copy2(source_home / "ledger_ed25519.pem", target.home / "ledger_ed25519.pem")
    (target.home / "data_key").write_text("not-the-key-the-backup-was-made-with-at-all-0123")
    result = restore(archive, target, restorer_home, "--force")
    assert result.returncode == 1
    assert "restore_data_key_mismatch" in result.stderr
    assert sorted(path.name for path in target.home.iterdir()) == ["data_key", "ledger_ed25519.pem"]

    shutil.copy2(source_home / "data_key", target.home / "data_key")
    result = restore(archive, target, restorer_home, "--force")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "sessions and reset links are void" in result.stdout  # no secret_key came along


# --- scheduled backups ---------------------------------------------------------------------


@pytest.fixture
def schedule(settings: Any, tmp_path: Path) -> Path:
    directory = tmp_path / "scheduled"
    settings.SIAGA_BACKUP_DIR = directory
    settings.SIAGA_BACKUP_EVERY_HOURS = 6
    settings.SIAGA_BACKUP_KEEP = 3
    settings.SIAGA_BACKUP_PASSPHRASE_FILE = None
    return directory


START = datetime(2027, 2, 1, 1, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_retention_keeps_exactly_keep_archives_and_the_newest(world: World, schedule: Path) -> None:
    schedule.mkdir()
    (schedule / "notes.txt").write_text("not an archive")
    made = []
    for hours in (0, 6, 12, 18, 24):
        path = backup_if_due(now=START + timedelta(hours=hours))
        assert path is not None
        made.append(path.name)
    assert made[-1] == "siaga-backup-20270202T010000Z.tar"
    kept = sorted(path.name for path in schedule.iterdir() if path.name.startswith("siaga-"))
    assert kept == made[-3:]
    assert (schedule / "notes.txt").read_text() == "not an archive"
    # Keeping one keeps the newest.
    assert [path.name for path in prune(schedule, 1)] == made[-3:-1]
    assert [path.name for _when, path in archives(schedule)] == [made[-1]]


@pytest.mark.django_db(transaction=True)
def test_backup_if_due_does_nothing_when_not_due(
    world: World, schedule: Path, settings: Any
) -> None:
    first = backup_if_due(now=START)
    assert first is not None
    listing = sorted(path.name for path in schedule.iterdir())
    checkpoints = Checkpoint.objects.count()
    assert backup_if_due(now=START + timedelta(hours=5, minutes=59)) is None
    assert sorted(path.name for path in schedule.iterdir()) == listing
    assert Checkpoint.objects.count() == checkpoints
    settings.SIAGA_BACKUP_EVERY_HOURS = 0
    assert backup_if_due(now=START + timedelta(days=30)) is None
    assert sorted(path.name for path in schedule.iterdir()) == listing


@pytest.mark.django_db(transaction=True)
def test_backup_if_due_leaves_it_to_the_worker_that_holds_the_lock(
    world: World, schedule: Path
) -> None:
    schedule.mkdir()
    fd = os.open(schedule / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker, mid-backup
        assert backup_if_due(now=START) is None
        assert [path.name for path in schedule.iterdir()] == [LOCK_FILE]
    finally:
        os.close(fd)
    made = backup_if_due(now=START)
    assert made is not None
    assert made.name == "siaga-backup-20270201T010000Z.tar"
    manifest = manifest_of(made)
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["ledger"]["size"] == Entry.objects.count()
    assert manifest["keys"]["included"] is False
    # The backup signed a checkpoint of the whole ledger first, and names it.
    assert manifest["ledger"]["checkpoints"][0]["size"] == manifest["ledger"]["size"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIAGA_BACKUP_EVERY_HOURS", "daily"),
        ("SIAGA_BACKUP_KEEP", "0"),
        ("SIAGA_BACKUP_PASSPHRASE_FILE", "/nonexistent/passphrase"),
    ],
)
def test_a_bad_backup_setting_stops_start_up_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    environment.update({"SIAGA_HOME": str(tmp_path / "home"), variable: value})
    result = subprocess.run(
        [sys.executable, "-m", "siaga.cli", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr

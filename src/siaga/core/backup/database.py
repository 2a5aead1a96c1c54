"""The database part of a backup: a consistent copy taken while others keep writing, the
facts the manifest states about it, and putting it back.

SQLite: Python's online backup API (``sqlite3.Connection.backup``) in one step, which reads
one snapshot while writers go on appending to the WAL. PostgreSQL: a ``REPEATABLE READ``
transaction exports its snapshot, ``pg_dump --format=custom --snapshot=…`` dumps exactly that
snapshot, and the manifest's facts are read in the same transaction, so they describe the dump.
"""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from siaga.core.errors import Conflict, InvalidInput, SiagaError

SQLITE_MEMBER = "database/siaga.sqlite3"
POSTGRES_MEMBER = "database/siaga.pgdump"


class BackupFailed(SiagaError):
    """A tool or the database failed while making or restoring a backup."""

    status = 500


def member_for(vendor: str) -> str:
    return SQLITE_MEMBER if vendor == "sqlite" else POSTGRES_MEMBER


# --- what the manifest says about the snapshot -------------------------------------------


def snapshot_facts(cursor: Any, placeholder: str) -> dict[str, Any]:
    """Migration state, ledger size, the latest checkpoint and the latest co-signed one (with
    their co-signatures), read through a DB-API cursor on the snapshot itself."""
    from siaga.ledger.models import Checkpoint, Cosignature, Head, WitnessKey
    from siaga.ledger.note import COSIGNATURE_V1, verifier_key

    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        migrations.setdefault(str(app), []).append(str(name))
    cursor.execute(f"SELECT size FROM {Head._meta.db_table}")  # noqa: S608
    row = cursor.fetchone()
    size = int(row[0]) if row else 0
    cp, cs, wk = Checkpoint._meta.db_table, Cosignature._meta.db_table, WitnessKey._meta.db_table
    cursor.execute(f"SELECT max(size) FROM {cp}")  # noqa: S608
    latest = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT max(c.size) FROM {cp} c WHERE EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {cs} s WHERE s.checkpoint_id = c.id)"
    )
    witnessed = cursor.fetchone()[0]
    checkpoints = []
    for wanted in sorted({s for s in (latest, witnessed) if s is not None}, reverse=True):
        cursor.execute(
            f"SELECT id, size, root_hash, note FROM {cp} WHERE size = {placeholder}",  # noqa: S608
            [wanted],
        )
        pk, cp_size, root, text = cursor.fetchone()
        cursor.execute(
            f"SELECT w.name, w.public_key, s.signature_line FROM {cs} s "  # noqa: S608
            f"JOIN {wk} w ON w.id = s.witness_id WHERE s.checkpoint_id = {placeholder} "
            "ORDER BY w.name",
            [pk],
        )
        cosignatures = [
            {
                "witness": str(name),
                "verifier_key": verifier_key(str(name), bytes(key), COSIGNATURE_V1),
                "signature_line": str(line),
            }
            for name, key, line in cursor.fetchall()
        ]
        checkpoints.append(
            {
                "size": int(cp_size),
                "root_hash": base64.b64encode(bytes(root)).decode(),
                "note": str(text),
                "cosignatures": cosignatures,
            }
        )
    return {"migrations": migrations, "ledger_size": size, "checkpoints": checkpoints}


# --- SQLite ------------------------------------------------------------------------------


def sqlite_snapshot(source: str, target: Path) -> dict[str, Any]:
    """Copy the live SQLite database at ``source`` into ``target`` in one step; the facts
    are read from the copy."""
    src = sqlite3.connect(source, timeout=20)
    dst = sqlite3.connect(target)
    try:
        # pages=-1: all pages in one step, under one read transaction: one snapshot.
        src.backup(dst, pages=-1)
        # A self-contained file: no WAL beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        facts = snapshot_facts(dst.cursor(), "?")
    finally:
        dst.close()
        src.close()
    return facts


def sqlite_table_count(path: Path) -> int:
    if not path.exists() or path.stat().st_size == 0:
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (count,) = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()
    except sqlite3.DatabaseError:
        return 1  # not a database we can read: not "empty" either
    finally:
        connection.close()
    return int(count)


def sqlite_integrity(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (result,) = connection.execute("PRAGMA integrity_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        connection.close()
    return str(result)


def install_sqlite(staged: Path, target: Path) -> None:
    """Move the verified copy into place; a WAL or shared-memory file of the database it
    replaces would be replayed onto it, so they go first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # The check opened it in WAL mode: fold the WAL back in, so the one file is the database.
    folding = sqlite3.connect(staged)
    try:
        folding.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        folding.close()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.chmod(staged, 0o600)
    try:
        os.replace(staged, target)
    except OSError:
        shutil.copyfile(staged, target)  # another file system
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- PostgreSQL --------------------------------------------------------------------------


def pg_params(settings_dict: dict[str, Any]) -> dict[str, Any]:
    """libpq connection parameters of a Django database entry, its OPTIONS (sslmode, options…)
    included."""
    params: dict[str, Any] = {
        key: str(value) for key, value in (settings_dict.get("OPTIONS") or {}).items()
    }
    params.update(
        {
            "dbname": settings_dict.get("NAME") or "",
            "user": settings_dict.get("USER") or "",
            "password": settings_dict.get("PASSWORD") or "",
            "host": settings_dict.get("HOST") or "",
            "port": str(settings_dict.get("PORT") or ""),
        }
    )
    return {key: value for key, value in params.items() if value}


def _pg_tool(tool: str, params: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The tool with ``--dbname=<conninfo>`` (the password goes by PGPASSWORD, not argv)."""
    from psycopg.conninfo import make_conninfo

    if shutil.which(tool) is None:
        raise BackupFailed(
            "backup_tool_missing",
            _("The PostgreSQL tool %(tool)s is not on PATH.") % {"tool": tool},
        )
    environment = dict(os.environ)
    if "password" in params:
        environment["PGPASSWORD"] = params["password"]
    conninfo = make_conninfo(**{k: v for k, v in params.items() if k != "password"})
    return [tool, "--no-password", f"--dbname={conninfo}"], environment


@contextmanager
def pg_connection(params: dict[str, Any]) -> Iterator[Any]:
    import psycopg

    try:
        connection = psycopg.connect(**params, connect_timeout=20)
    except psycopg.Error as exc:
        raise BackupFailed(
            "backup_database_unreachable",
            _("The database %(name)s cannot be reached.") % {"name": params.get("dbname", "")},
            detail=str(exc).strip(),
        ) from None
    try:
        yield connection
    finally:
        connection.close()


def pg_snapshot(params: dict[str, Any], target: Path) -> dict[str, Any]:
    """``pg_dump --format=custom`` of one exported snapshot; the facts from that snapshot."""
    with pg_connection(params) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor = connection.cursor()
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
        facts = snapshot_facts(cursor, "%s")
        args, environment = _pg_tool("pg_dump", params)
        args += [
            "--format=custom",
            f"--snapshot={snapshot}",
            f"--file={target}",
        ]
        _run(args, environment, "backup_dump_failed")
        connection.rollback()
    return facts


def pg_table_count(params: dict[str, Any]) -> int:
    with pg_connection(params) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ).fetchone()
    return int(count)


def pg_restore(params: dict[str, Any], dump: Path) -> None:
    """Into the target database, in one transaction: a failed restore changes nothing."""
    args, environment = _pg_tool("pg_restore", params)
    args += [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        str(dump),
    ]
    _run(args, environment, "restore_database_failed")


def _run(args: list[str], environment: dict[str, str], code: str) -> None:
    result = subprocess.run(  # noqa: S603 - the tool and its arguments are ours
        args, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupFailed(
            code,
            _("%(tool)s failed (exit %(status)s).")
            % {"tool": Path(args[0]).name, "status": result.returncode},
            detail=result.stderr.strip()[-2000:],
        )


# --- the target of a restore -------------------------------------------------------------


def parse_url(url: str) -> dict[str, Any]:
    import dj_database_url

    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise InvalidInput(
            "restore_database_url_invalid",
            _("This is not a database URL."),
            detail=str(exc),
        ) from None
    engine = str(config.get("ENGINE", ""))
    if engine == "django.db.backends.sqlite3":
        config["vendor"] = "sqlite"
    elif engine == "django.db.backends.postgresql":
        config["vendor"] = "postgresql"
    else:
        raise InvalidInput(
            "restore_database_url_invalid",
            _("SIAGA restores into SQLite or PostgreSQL only."),
            detail=url,
        )
    return config


def target_tables(config: dict[str, Any]) -> int:
    if config["vendor"] == "sqlite":
        return sqlite_table_count(Path(str(config["NAME"])))
    return pg_table_count(pg_params(config))


def refuse_vendor(archive_vendor: str, target_vendor: str) -> None:
    if archive_vendor != target_vendor:
        raise Conflict(
            "restore_vendor_mismatch",
            _("This backup is of a %(archive)s database; it restores into %(archive)s only.")
            % {"archive": archive_vendor},
            detail={"archive": archive_vendor, "target": target_vendor},
        )

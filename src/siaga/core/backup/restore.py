"""Putting an archive back into a SIAGA_HOME and a database, and proving it usable.

Steps, each of which stops the restore with a clear error:

1. the target database must be empty (no table), unless ``force``;
2. the archive is opened (its passphrase checked) and every member unpacked into a staging
   folder inside the target home, each checked against the manifest's SHA-256;
3. the archive's database vendor must be the target's;
4. the staged home gets the archive's key files, else the target's own;
5. SQLite: the copy stays staged; PostgreSQL: ``pg_restore`` into the target in one
   transaction;
6. a child process configured for the staged home and the restored database checks the
   migrations, the keys, the whole ledger (``siaga ledger verify``'s verification), the tree at
   each checkpoint of the manifest and each co-signature (``checks.verify_instance``);
7. only then are the key files, the ledger's files, the media and (SQLite) the database moved
   into the target, and ``restore.json`` written there with ``"status": "verified"``.

On a failure in steps 1–6 the staging folder is removed and the target home and (SQLite) the
target database are as they were. Only PostgreSQL after step 5 differs: the target database
holds the unverified restore, and ``restore.json`` says ``"status": "failed"`` and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.core.backup import archive, database
from siaga.core.backup.create import KEY_FILES
from siaga.core.errors import Conflict, InvalidInput, SiagaError

STATUS_FILE = "restore.json"


@dataclass
class Restored:
    home: Path
    database: str
    manifest: dict[str, Any]
    report: dict[str, Any]
    replaced: list[str] = field(default_factory=list)


def target_url(home: Path, database_url: str | None) -> str:
    """The database the restored instance will use: as given, else SIAGA_DATABASE_URL, else
    SQLite under the target home (what ``siaga`` with ``SIAGA_HOME=home`` would open)."""
    return (
        database_url
        or os.environ.get("SIAGA_DATABASE_URL")
        or f"sqlite:///{home / 'siaga.sqlite3'}"
    )


def restore_archive(
    path: Path,
    *,
    home: Path,
    database_url: str | None = None,
    passphrase: str | None = None,
    force: bool = False,
) -> Restored:
    if not path.is_file():
        raise InvalidInput(
            "backup_not_found", _("There is no backup file at %(path)s.") % {"path": str(path)}
        )
    url = target_url(home, database_url)
    target = database.parse_url(url)
    if not force and database.target_tables(target) > 0:
        raise Conflict(
            "restore_target_not_empty",
            _("The target database holds tables already; restore over it only with --force."),
            detail={"database": _describe(target)},
        )
    created_home = not home.exists()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=home))
    restored_database = False
    try:
        with path.open("rb") as raw:
            manifest, placed = archive.extract(archive.open_plain(raw, passphrase), staging)
        vendor = str(manifest["database"]["vendor"])
        database.refuse_vendor(vendor, target["vendor"])
        staged_home = staging / "home"
        staged_home.mkdir(exist_ok=True, mode=0o700)
        for file_name in KEY_FILES:
            if f"home/{file_name}" not in placed and (home / file_name).is_file():
                shutil.copy2(home / file_name, staged_home / file_name)
        (staging / archive.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        dump = placed[str(manifest["database"]["member"])]
        if vendor == "sqlite":
            result = database.sqlite_integrity(dump)
            if result != "ok":
                raise Conflict(
                    "restore_database_damaged",
                    _("The backed-up SQLite database fails its integrity check."),
                    detail=result,
                )
            check_url = f"sqlite:///{dump}"
        else:
            # The keys first, without the database: a restore that cannot be used for want of
            # a key must not have changed the target database.
            _verify_in_child(staging / archive.MANIFEST, staged_home, url, keys_only=True)
            database.pg_restore(database.pg_params(target), dump)
            restored_database = True
            check_url = url
        report = _verify_in_child(staging / archive.MANIFEST, staged_home, check_url)
        replaced = _install(placed, home, target, vendor)
        _write_status(home, path, manifest, "verified", report=report)
        return Restored(home, _describe(target), manifest, report, replaced)
    except SiagaError as exc:
        if restored_database:
            _write_status(home, path, None, "failed", error=exc.as_dict())
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created_home and not any(home.iterdir()):
            home.rmdir()


def _describe(target: dict[str, Any]) -> str:
    if target["vendor"] == "sqlite":
        return str(target["NAME"])
    return f"postgresql://{target.get('HOST') or ''}:{target.get('PORT') or ''}/{target['NAME']}"


def _verify_in_child(
    manifest: Path, staged_home: Path, url: str, *, keys_only: bool = False
) -> dict[str, Any]:
    environment = dict(os.environ, SIAGA_HOME=str(staged_home), SIAGA_DATABASE_URL=url)
    command = [sys.executable, "-m", "siaga.cli", "restore", "--verify-manifest", str(manifest)]
    result = subprocess.run(  # noqa: S603 - our own interpreter and command
        [*command, "--keys-only"] if keys_only else command,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    try:
        answer: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise Conflict(
            "restore_check_failed",
            _("The check of the restored instance did not finish."),
            detail=(result.stderr or result.stdout).strip()[-2000:],
        ) from None
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise Conflict(
            str(error.get("code", "restore_check_failed")),
            str(error.get("message", "")),
            detail=error.get("detail"),
        )
    report: dict[str, Any] = answer["report"]
    return report


def _install(placed: dict[str, Path], home: Path, target: dict[str, Any], vendor: str) -> list[str]:
    """Move the checked members into the target home; a key file there that differs is kept
    beside it as ``<name>.before-restore-<UTC time>``."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    replaced = []
    for member, source in sorted(placed.items()):
        if member.startswith("database/"):
            continue
        relative = member.removeprefix("home/") if member.startswith("home/") else member
        destination = home / relative
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if (
            member.startswith("home/")
            and destination.is_file()
            and destination.read_bytes() != source.read_bytes()
        ):
            kept = destination.with_name(f"{destination.name}.before-restore-{stamp}")
            os.replace(destination, kept)
            replaced.append(str(kept))
        os.replace(source, destination)
    if vendor == "sqlite":
        database.install_sqlite(placed[database.SQLITE_MEMBER], Path(str(target["NAME"])))
    return replaced


def _write_status(
    home: Path,
    path: Path,
    manifest: dict[str, Any] | None,
    status: str,
    *,
    report: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    record = {
        "status": status,
        "archive": str(path),
        "at": timezone.now().isoformat().replace("+00:00", "Z"),
        "created_at": manifest.get("created_at") if manifest else None,
        "report": report,
        "error": error,
    }
    temporary = home / f".{STATUS_FILE}.tmp"
    temporary.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, home / STATUS_FILE)

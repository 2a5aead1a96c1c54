"""Making one archive: ``siaga backup`` and the scheduled backup both call ``create_backup``."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import siaga
from siaga.core.backup import archive, database, sealing
from siaga.core.errors import Conflict, InvalidInput

# The key files SIAGA_HOME holds, the variable that may stand in for each, and the member.
KEY_FILES = {
    "secret_key": "SIAGA_SECRET_KEY",
    "data_key": "SIAGA_DATA_KEY",
    "ledger_ed25519.pem": "",
}
# The ledger's checkpoint files (a witness's or an operator's kept state), if any.
LEDGER_FOLDER = "ledger"
PROBE = "siaga-backup-probe"
PASSPHRASE_MIN_LENGTH = 12


@dataclass
class Made:
    path: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def fingerprint(secret: str) -> str:
    """A hash that tells one secret from another and reveals nothing of it."""
    return hashlib.sha256(b"siaga-backup fingerprint\n" + secret.encode()).hexdigest()


def data_key_check() -> dict[str, str]:
    """What a restored instance must reproduce to read the backup's encrypted values: the
    look-up hash of a fixed text, and a fixed text encrypted with the newest data key."""
    from siaga.core import crypto

    return {
        "keyed_hash": crypto.keyed_hash(PROBE, purpose="backup-check"),
        "encrypted_probe": crypto.encrypt(PROBE),
    }


def _key_facts(home: Path) -> dict[str, dict[str, Any]]:
    from siaga.ledger import keys

    # Read first: an instance that never signed a checkpoint makes its key now, so that the
    # archive holds the key the manifest names.
    verifier_key = keys.instance_verifier_key()
    facts: dict[str, dict[str, Any]] = {}
    for file_name, variable in KEY_FILES.items():
        from_environment = bool(variable) and variable in os.environ
        path = home / file_name
        facts[file_name] = {
            "source": "environment" if from_environment else "file",
            "path": path if not from_environment and path.is_file() else None,
        }
    facts["secret_key"]["fingerprint"] = fingerprint(str(settings.SECRET_KEY))
    facts["data_key"]["fingerprint"] = fingerprint(",".join(settings.DATA_KEYS))
    facts["ledger_ed25519.pem"]["verifier_key"] = verifier_key
    return facts


def create_backup(
    directory: Path,
    *,
    passphrase: str | None = None,
    include_keys: bool | None = None,
    now: datetime | None = None,
) -> Made:
    """One archive in ``directory``, written to a temporary file, fsynced and renamed; never
    over an existing one. Keys go in when the archive is encrypted, or when ``include_keys``."""
    from siaga.ledger import services as ledger

    now = now or timezone.now()
    if passphrase is not None and len(passphrase) < PASSPHRASE_MIN_LENGTH:
        raise InvalidInput(
            "backup_passphrase_too_short",
            _("A backup passphrase has at least %(count)s characters.")
            % {"count": PASSPHRASE_MIN_LENGTH},
        )
    sealed = passphrase is not None
    with_keys = sealed if include_keys is None else include_keys
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = directory / archive.archive_name(now, sealed)
    if final.exists():
        raise Conflict(
            "backup_exists",
            _("An archive of this second exists already: %(name)s.") % {"name": final.name},
        )
    warnings: list[str] = []
    # Pin the ledger's head in a signed checkpoint first, so the manifest names (nearly) all
    # of it; one checkpoint per tree size, so this adds a row only when entries arrived.
    ledger.make_checkpoint()
    home = Path(settings.SIAGA_HOME)
    work = Path(tempfile.mkdtemp(prefix=".siaga-backup-", dir=directory))
    temporary = work / (final.name + ".tmp")
    try:
        vendor = connection.vendor
        dump = work / Path(database.member_for(vendor)).name
        if vendor == "sqlite":
            facts = database.sqlite_snapshot(str(connection.settings_dict["NAME"]), dump)
            method = "sqlite3 online backup"
        else:
            facts = database.pg_snapshot(database.pg_params(connection.settings_dict), dump)
            method = "pg_dump --format=custom"
        key_facts = _key_facts(home)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            sink: Any = sealing.SealedWriter(out, passphrase) if passphrase is not None else out
            writer = archive.Writer(sink)
            writer.add_file(database.member_for(vendor), dump)
            # Media after the database: every file a row of the snapshot names was written
            # before that row committed, so it is here (unless erased since).
            for member, path in archive.media_files(Path(settings.MEDIA_ROOT)):
                try:
                    writer.add_bytes(member, path.read_bytes(), path.stat().st_mtime)
                except FileNotFoundError:
                    continue  # erased (retention) between the listing and the reading
            keys_manifest: dict[str, Any] = {}
            for file_name, fact in key_facts.items():
                member = f"home/{file_name}"
                included = with_keys and fact["path"] is not None
                if included:
                    writer.add_file(member, fact["path"])
                keys_manifest[file_name] = {
                    key: value for key, value in fact.items() if key != "path"
                } | {"member": member if included else None}
                if not included:
                    warnings.append(_missing_key_warning(file_name, fact, with_keys))
            ledger_folder = home / LEDGER_FOLDER
            if ledger_folder.is_dir():
                for member, path in archive.media_files(ledger_folder):
                    if path.suffix == ".lock":  # the ledger's lock file, not its state
                        continue
                    writer.add_file("home/ledger/" + member.removeprefix("media/"), path)
            manifest = {
                "format": archive.FORMAT,
                "created_at": now.isoformat().replace("+00:00", "Z"),
                "siaga_version": siaga.__version__,
                "encrypted": sealed,
                "database": {
                    "vendor": vendor,
                    "member": database.member_for(vendor),
                    "method": method,
                    "migrations": facts["migrations"],
                },
                "ledger": {
                    "size": facts["ledger_size"],
                    "origin": str(settings.LEDGER_ORIGIN),
                    "verifier_key": key_facts["ledger_ed25519.pem"]["verifier_key"],
                    "checkpoints": facts["checkpoints"],
                },
                "keys": {"included": with_keys, **keys_manifest},
                "data_key_check": data_key_check(),
                "members": dict(writer.members),
            }
            writer.close(manifest, now.timestamp())
            if isinstance(sink, sealing.SealedWriter):
                sink.close()
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, final)  # fails, rather than replaces, if the name is taken
        except FileExistsError:
            raise Conflict(
                "backup_exists",
                _("An archive of this second exists already: %(name)s.") % {"name": final.name},
            ) from None
        _fsync_dir(directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Made(final, manifest, warnings)


def _missing_key_warning(file_name: str, fact: dict[str, Any], with_keys: bool) -> str:
    if fact["source"] == "environment":
        return str(
            _("%(name)s comes from the environment and is not in the archive: keep it safe.")
            % {"name": file_name}
        )
    if fact["path"] is None:
        return str(
            _("%(name)s is not in SIAGA_HOME; it is not in the archive.") % {"name": file_name}
        )
    return str(
        _(
            "%(name)s is not in this unencrypted archive: back it up separately (or encrypt "
            "the archive, or pass --include-keys); without it the restored data cannot be used."
        )
        % {"name": file_name}
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

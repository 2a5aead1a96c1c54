"""What makes a restored instance usable, checked inside that instance (its SIAGA_HOME and its
database): ``siaga restore`` runs this as ``siaga restore --verify-manifest FILE`` in a child
process configured for the target, before it says the restore is usable."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import Conflict, SiagaError


class RestoreRefused(Conflict):
    """The restored instance does not hold what the backup says it holds."""


@dataclass
class Report:
    ledger: str = ""
    checkpoints: list[int] = field(default_factory=list)
    cosignatures: int = 0
    notes: list[str] = field(default_factory=list)


def verify_instance(manifest: dict[str, Any], *, keys_only: bool = False) -> Report:
    """Raises ``RestoreRefused`` at the first thing that does not hold. ``keys_only``: the key
    files alone, without touching the database (run before a restore changes a database)."""
    report = Report()
    _check_ledger_key(manifest)
    _check_data_key(manifest)
    _check_secret_key(manifest, report)
    if not keys_only:
        _check_migrations(manifest, report)
        _check_ledger(manifest, report)
    return report


def _check_migrations(manifest: dict[str, Any], report: Report) -> None:
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = set(loader.applied_migrations)
    unknown = sorted(
        f"{app}.{name}" for app, name in applied if (app, name) not in loader.disk_migrations
    )
    if unknown:
        raise RestoreRefused(
            "restore_migrations_unknown",
            _("The restored database has migrations this version of SIAGA does not know."),
            detail=unknown[:20],
        )
    pending = sorted(
        f"{app}.{name}" for app, name in loader.disk_migrations if (app, name) not in applied
    )
    if pending:
        report.notes.append(
            f"{len(pending)} migrations of this version are not applied: run `siaga migrate`."
        )


def _check_ledger_key(manifest: dict[str, Any]) -> None:
    from siaga.ledger import keys

    if not keys.key_path().is_file():
        # Checked before anything reads the key: reading it would generate a new one.
        raise RestoreRefused(
            "restore_ledger_key_missing",
            _(
                "The ledger's signing key (ledger_ed25519.pem) is not in the restored SIAGA_HOME: "
                "put the backed-up key there and restore again."
            ),
        )
    if keys.instance_verifier_key() != manifest["ledger"]["verifier_key"]:
        raise RestoreRefused(
            "restore_ledger_key_mismatch",
            _("The ledger's signing key in SIAGA_HOME is not the key of the backed-up instance."),
            detail={"expected": manifest["ledger"]["verifier_key"]},
        )


def _check_data_key(manifest: dict[str, Any]) -> None:
    from siaga.core import crypto
    from siaga.core.backup.create import PROBE

    check = manifest.get("data_key_check") or {}
    try:
        readable = crypto.decrypt(str(check.get("encrypted_probe", ""))) == PROBE
    except (crypto.DecryptionFailed, ValueError, UnicodeError):
        readable = False
    same_hashes = crypto.keyed_hash(PROBE, purpose="backup-check") == check.get("keyed_hash")
    if not (readable and same_hashes):
        raise RestoreRefused(
            "restore_data_key_mismatch",
            _(
                "The data key of the restored SIAGA_HOME (data_key or SIAGA_DATA_KEY) is not the "
                "one the backup was made with: its encrypted personal data could not be read."
            ),
        )


def _check_secret_key(manifest: dict[str, Any], report: Report) -> None:
    from django.conf import settings

    from siaga.core.backup.create import fingerprint

    expected = manifest["keys"]["secret_key"].get("fingerprint")
    if expected and fingerprint(str(settings.SECRET_KEY)) != expected:
        report.notes.append(
            "The secret key is not the backed-up one: sessions and reset links are void."
        )


def _check_ledger(manifest: dict[str, Any], report: Report) -> None:
    from siaga.ledger import audit, keys, note, services
    from siaga.ledger.models import Checkpoint

    try:
        verified = audit.verify_database()
    except audit.Broken as exc:
        raise RestoreRefused(
            "restore_ledger_broken",
            _("The restored ledger does not verify."),
            detail=str(exc),
        ) from None
    report.ledger = (
        f"{verified.entries} entries, {verified.checkpoints} checkpoints, "
        f"{verified.cosignatures} co-signatures; {verified.summary()}"
    )
    size = services.tree_size()
    expected_size = int(manifest["ledger"]["size"])
    for checkpoint in manifest["ledger"]["checkpoints"]:
        cp_size = int(checkpoint["size"])
        if size < cp_size:
            raise RestoreRefused(
                "restore_ledger_behind_checkpoint",
                _(
                    "The restored ledger holds %(size)s entries, fewer than the checkpoint of "
                    "%(checkpoint)s entries the backup names: it was rolled back."
                )
                % {"size": size, "checkpoint": cp_size},
            )
        root = base64.b64decode(checkpoint["root_hash"])
        if services.root_hash(cp_size) != root:
            raise RestoreRefused(
                "restore_ledger_mismatch",
                _(
                    "The restored ledger's tree at %(size)s entries has another root than the "
                    "backup's checkpoint."
                )
                % {"size": cp_size},
            )
        try:
            signed = note.verify(checkpoint["note"], keys.origin(), keys.public_key())
        except note.NoteError as exc:
            raise RestoreRefused(
                "restore_ledger_mismatch",
                _("The backup's checkpoint is not signed by the restored ledger key."),
                detail=str(exc),
            ) from None
        stored = Checkpoint.objects.filter(size=cp_size).first()
        if (
            signed.root != root
            or signed.size != cp_size
            or stored is None
            or stored.note != checkpoint["note"]
        ):
            raise RestoreRefused(
                "restore_ledger_mismatch",
                _("The restored ledger does not hold the backup's checkpoint at %(size)s.")
                % {"size": cp_size},
            )
        for cosignature in checkpoint["cosignatures"]:
            _check_cosignature(signed, cosignature, stored)
            report.cosignatures += 1
        report.checkpoints.append(cp_size)
    if size != expected_size:
        raise RestoreRefused(
            "restore_ledger_size_differs",
            _("The restored ledger holds %(size)s entries; the backup held %(expected)s.")
            % {"size": size, "expected": expected_size},
        )


def _check_cosignature(signed: Any, cosignature: dict[str, Any], stored: Any) -> None:
    from siaga.ledger import note

    try:
        name, kind, public_key = note.parse_verifier_key(cosignature["verifier_key"])
        _cp, (signature,) = note.parse(signed.body() + "\n" + cosignature["signature_line"] + "\n")
        if kind != note.COSIGNATURE_V1 or name != cosignature["witness"]:
            raise note.NoteError("not a cosignature/v1 key of this witness")
        note.verify_cosignature(signed, signature, name, public_key)
    except (note.NoteError, ValueError, KeyError) as exc:
        raise RestoreRefused(
            "restore_cosignature_invalid",
            _("A co-signature in the backup does not verify against its witness key."),
            detail={"witness": cosignature.get("witness"), "error": str(exc)},
        ) from None
    held = (
        stored.cosignatures.filter(witness__name=name, signature_line=cosignature["signature_line"])
        .select_related("witness")
        .first()
    )
    if held is None or bytes(held.witness.public_key) != public_key:
        raise RestoreRefused(
            "restore_cosignature_invalid",
            _("The restored ledger lacks a co-signature the backup holds."),
            detail={"witness": name},
        )


def error_dict(exc: SiagaError) -> dict[str, Any]:
    return exc.as_dict()

"""``siaga restore ARCHIVE``: into a SIAGA_HOME and a database, verified before it is used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.core.backup import cli, restore_archive
from siaga.core.errors import SiagaError


class Command(BaseCommand):
    help = (
        "Restore a backup into a SIAGA_HOME and a database, then prove it: the manifest's "
        "hashes, the whole ledger, the checkpoint's root and its co-signatures."
    )
    # The restoring process needs no database of its own (nor its checks).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, nargs="?", help="the backup file")
        cli.add_passphrase_arguments(parser)
        parser.add_argument(
            "--into-home", type=Path, default=None, help="the target SIAGA_HOME (SIAGA_HOME)"
        )
        parser.add_argument(
            "--database-url",
            default=None,
            help="the target database (SIAGA_DATABASE_URL, else SQLite in the target home)",
        )
        parser.add_argument(
            "--force", action="store_true", help="restore over a database that holds tables"
        )
        parser.add_argument(
            "--verify-manifest",
            type=Path,
            default=None,
            help="check the configured instance against a backup's manifest (JSON) and stop; "
            "restore runs this itself in the target's configuration",
        )
        parser.add_argument(
            "--keys-only",
            action="store_true",
            help="with --verify-manifest: check the key files alone (no database)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify_manifest"] is not None:
            self._verify(options["verify_manifest"], keys_only=options["keys_only"])
            return
        if options["archive"] is None:
            raise CommandError("give the backup file to restore")
        home = (options["into_home"] or Path(settings.SIAGA_HOME)).resolve()
        try:
            restored = restore_archive(
                options["archive"].resolve(),
                home=home,
                database_url=options["database_url"],
                passphrase=cli.passphrase(options),
                force=options["force"],
            )
        except SiagaError as exc:
            raise cli.fail(exc) from None
        report = restored.report
        self.stdout.write(f"Restored {options['archive']} into {home} ({restored.database}).")
        self.stdout.write(f"  manifest: {len(restored.manifest['members'])} members verified")
        self.stdout.write(f"  ledger: {report['ledger']}")
        self.stdout.write(
            f"  checkpoints {', '.join(map(str, report['checkpoints'])) or 'none'} match; "
            f"{report['cosignatures']} co-signatures verified"
        )
        for kept in restored.replaced:
            self.stdout.write(f"  kept the replaced file as {kept}")
        for note in report["notes"]:
            self.stdout.write(f"  note: {note}")
        self.stdout.write("OK: the restore is verified and usable.")

    def _verify(self, path: Path, *, keys_only: bool) -> None:
        from siaga.core.backup.checks import verify_instance

        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            report = verify_instance(manifest, keys_only=keys_only)
        except SiagaError as exc:
            self.stdout.write(json.dumps({"ok": False, "error": exc.as_dict()}, default=str))
            raise CommandError(f"{exc.code}: {exc.message}", returncode=1) from None
        self.stdout.write(json.dumps({"ok": True, "report": report.__dict__}))

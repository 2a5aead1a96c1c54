"""``siaga backup``: one archive of the database, the media, the keys and a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from siaga.core.backup import cli, create_backup
from siaga.core.backup.schedule import backup_lock
from siaga.core.errors import SiagaError


class Command(BaseCommand):
    help = (
        "Back up the database (consistent while others write), the media, the key files and "
        "the ledger's checkpoint, with a manifest of SHA-256 hashes; optionally encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", type=Path, default=None, help="folder of the archive (SIAGA_BACKUP_DIR)"
        )
        cli.add_passphrase_arguments(parser)
        parser.add_argument(
            "--include-keys",
            action="store_true",
            default=None,
            help="put the key files into an unencrypted archive too (they are always in an "
            "encrypted one)",
        )
        parser.add_argument(
            "--no-keys",
            dest="include_keys",
            action="store_false",
            help="leave the key files out even of an encrypted archive",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = (options["to"] or Path(settings.SIAGA_BACKUP_DIR)).resolve()
        try:
            passphrase = cli.passphrase(options)
            with backup_lock(directory, wait=True):
                made = create_backup(
                    directory, passphrase=passphrase, include_keys=options["include_keys"]
                )
        except SiagaError as exc:
            raise cli.fail(exc) from None
        manifest = made.manifest
        ledger = manifest["ledger"]
        checkpoint = ledger["checkpoints"][0] if ledger["checkpoints"] else None
        self.stdout.write(str(made.path))
        self.stdout.write(
            f"  {manifest['database']['vendor']} ({manifest['database']['method']}), "
            f"{len(manifest['members'])} members, "
            f"{'encrypted' if manifest['encrypted'] else 'not encrypted'}, "
            f"keys {'included' if manifest['keys']['included'] else 'not included'}"
        )
        if checkpoint is not None:
            witnesses = sum(len(cp["cosignatures"]) for cp in ledger["checkpoints"])
            self.stdout.write(
                f"  ledger: {ledger['size']} entries; checkpoint {checkpoint['size']} "
                f"root {checkpoint['root_hash']}; {witnesses} co-signatures"
            )
        else:
            self.stdout.write(f"  ledger: {ledger['size']} entries, no checkpoint")
        for warning in made.warnings:
            self.stderr.write(f"warning: {warning}")

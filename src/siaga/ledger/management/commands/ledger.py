"""``siaga ledger export|verify|checkpoint|key|clean-legacy``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.ledger import audit, keys, services


class Command(BaseCommand):
    help = "The custody ledger: export it, verify it, sign a checkpoint, show the public key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the ledger as JSON lines")
        export.add_argument("file", help="output file, or - for standard output")
        sub.add_parser("verify", help="recompute every leaf and root, check every signature")
        sub.add_parser("checkpoint", help="sign the current tree head now")
        sub.add_parser("key", help="print the instance's verifier key")
        sub.add_parser(
            "clean-legacy",
            help="scrub secrets and full identifiers that older versions wrote into payloads "
            "(recorded as redacted, with one ledger.redacted entry)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "export":
            self._export(options["file"])
        elif action == "verify":
            self._verify()
        elif action == "clean-legacy":
            seqs = services.clean_legacy(actor="")
            self.stdout.write(
                f"Scrubbed {len(seqs)} legacy entries: seq {audit.seq_list(seqs)}."
                if seqs
                else "No legacy entry holds a secret or a full identifier."
            )
        elif action == "checkpoint":
            checkpoint = services.make_checkpoint()
            self.stdout.write(checkpoint.note if checkpoint else "The ledger is empty.")
        else:
            self.stdout.write(keys.instance_verifier_key())

    def _export(self, target: str) -> None:
        if target == "-":
            count = audit.export(sys.stdout)
        else:
            with Path(target).open("w", encoding="utf-8") as out:
                count = audit.export(out)
        self.stderr.write(f"Exported {count} entries.")

    def _verify(self) -> None:
        started = time.perf_counter()
        try:
            result = audit.verify_database()
        except audit.Broken as exc:
            self.stdout.write(f"FAIL: {exc}")
            raise CommandError("the ledger does not verify", returncode=1) from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"OK: {result.entries} entries, {result.checkpoints} checkpoints, "
            f"{result.cosignatures} co-signatures verified in {seconds:.2f} s; "
            f"{result.summary()}."
        )

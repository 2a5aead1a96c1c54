"""``siaga ledger export|verify|checkpoint|key|clean-legacy|accept-rollback``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.core.errors import SiagaError
from siaga.ledger import audit, checkpoint_file, keys, rollback, services


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
        accept = sub.add_parser(
            "accept-rollback",
            help="accept that the database was put back behind the kept checkpoint: the lost "
            "entries are recorded as lost, the tree goes on from the checkpoint, writes resume",
        )
        accept.add_argument("--reason", required=True, help="why (kept in the ledger)")
        accept.add_argument("--by", required=True, help="the username of the admin deciding")

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
            try:
                checkpoint = services.make_checkpoint()
            except rollback.LedgerRolledBack as exc:
                raise CommandError(str(exc.message), returncode=1) from None
            self.stdout.write(checkpoint.note if checkpoint else "The ledger is empty.")
        elif action == "accept-rollback":
            self._accept(options["reason"], options["by"])
        else:
            self.stdout.write(keys.instance_verifier_key())

    def _export(self, target: str) -> None:
        if target == "-":
            count = audit.export(sys.stdout)
        else:
            with Path(target).open("w", encoding="utf-8") as out:
                count = audit.export(out)
        self.stderr.write(f"Exported {count} entries.")

    def _accept(self, reason: str, by: str) -> None:
        from siaga.accounts.models import User

        admin = User.objects.filter(username=by, is_active=True, is_superuser=True).first()
        if admin is None:
            raise CommandError(f"{by!r} is no active superuser: only an admin decides.")
        try:
            entry = rollback.accept(reason=reason, actor=admin)
        except SiagaError as exc:
            raise CommandError(f"{exc.code}: {exc.message}", returncode=1) from None
        lost = entry.record()["payload"]["lost"]
        self.stdout.write(
            f"Accepted: entries {lost['first']}..{lost['last']} ({lost['count']}) are lost; "
            f"the decision is entry {entry.seq}; writes resume."
        )
        checkpoint = services.make_checkpoint()
        if checkpoint is not None:
            self.stdout.write(f"Signed checkpoint {checkpoint.size}.")

    def _verify(self) -> None:
        found = rollback.detect()
        if found is not None:
            self.stdout.write(
                f"FAIL: {rollback.describe(found)} (kept in {checkpoint_file.path()}): the "
                "database was put back to an older copy; writes are refused until an admin "
                "runs `siaga ledger accept-rollback`."
            )
            raise CommandError("the ledger was rolled back", returncode=1)
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

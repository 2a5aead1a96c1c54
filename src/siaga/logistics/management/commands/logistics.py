"""``siaga logistics``: seed the catalogue; rebuild (or check) custody state from the ledger."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.logistics import replay, services


class Command(BaseCommand):
    help = "Logistics: the catalogue, and custody state rebuilt from the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        seed = sub.add_parser("seed", help="the 2024 catalogue and need rules for an election")
        seed.add_argument("--code", default="pemilu-2024")
        seed.add_argument("--name", default="Pemilu 2024")
        seed.add_argument("--voting-day", default="2024-02-14", type=dt.date.fromisoformat)
        rebuild = sub.add_parser("rebuild", help="replay the ledger into stock, packages and seals")
        rebuild.add_argument(
            "--check",
            action="store_true",
            help="only compare: exit 1 when the stored state differs from the replay",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seed":
            election = services.seed_catalogue(
                code=options["code"], name=options["name"], voting_day=options["voting_day"]
            )
            self.stdout.write(f"{election}: {election.items.count()} items in the catalogue.")
            return
        started = time.monotonic()
        state, differences = replay.rebuild(check=options["check"])
        took = time.monotonic() - started
        summary = (
            f"{state.entries} ledger entries replayed: {len(state.packages)} packages, "
            f"{len(state.seals)} seals, {sum(1 for v in state.stock.values() if v != [0, 0])} "
            f"stock rows ({took:.1f} s)."
        )
        self.stdout.write(summary)
        for diff in differences[:50]:
            self.stdout.write(
                f"  {diff.what} {diff.key}: stored {diff.stored!r}, ledger says {diff.replayed!r}"
            )
        if len(differences) > 50:
            self.stdout.write(f"  … and {len(differences) - 50} more")
        if differences and options["check"]:
            raise CommandError(f"{len(differences)} differences between stored state and ledger.")
        if differences:
            self.stdout.write(f"{len(differences)} differences repaired from the ledger.")
        else:
            self.stdout.write("Stored state equals the replay.")

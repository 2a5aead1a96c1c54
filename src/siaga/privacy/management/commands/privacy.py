"""``siaga privacy``: erase what is past its retention (``purge``); print everything SIAGA
holds on one person, as JSON, for their right of access (``export NIK``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.accounts.models import User
from siaga.core.errors import SiagaError
from siaga.privacy import services


class Command(BaseCommand):
    help = "Personal data: the retention purge, and a person's right-of-access export."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "purge", help="erase photos, phones, NIKs and sign-in records past their retention"
        )
        export = sub.add_parser("export", help="everything held on the person with this NIK")
        export.add_argument(
            "nik", help="the NIK; '-' reads it from standard input (kept out of shell history)"
        )
        export.add_argument(
            "--as",
            dest="username",
            default="",
            help="the officer answering the request (recorded in the look-up log)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "purge":
            run = services.purge()
            self.stdout.write(
                f"Erased {run.photos} photos, {run.phones} phone numbers, {run.niks} NIKs; "
                f"{run.redacted} ledger entries redacted; {run.signins} sign-in records "
                "deleted."
            )
            return
        nik = sys.stdin.readline().strip() if options["nik"] == "-" else options["nik"]
        actor = None
        if options["username"]:
            actor = User.objects.filter(username=options["username"]).first()
            if actor is None:
                raise CommandError(f"No user {options['username']!r}.")
        try:
            held = services.export_person(nik, actor=actor)
        except SiagaError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(json.dumps(held, ensure_ascii=False, indent=2))

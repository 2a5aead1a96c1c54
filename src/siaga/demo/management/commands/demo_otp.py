"""``siaga demo_otp <username>``: the current code of a demo account's authenticator.

Only for accounts that carry the demo's documented secret (SIAGA_DEMO_TOTP_SECRET): a real
account's authenticator is never read out.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.two_factor import demo_totp_secret_hex


class Command(BaseCommand):
    help = "Print the current second-factor code of a demo account (demo secret only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        device = TOTPDevice.objects.filter(
            user__username=username, confirmed=True, key=demo_totp_secret_hex()
        ).first()
        if device is None:
            raise CommandError(
                f"{username} has no demo authenticator (only demo accounts that need a second "
                "factor have one)"
            )
        totp = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        left = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"valid for {left} more seconds")

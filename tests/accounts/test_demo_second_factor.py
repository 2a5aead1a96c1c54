"""The demo's accounts that need a second factor share the documented demo authenticator;
``siaga demo_otp`` reads out its current code, and only that one."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.models import User
from siaga.accounts.two_factor import demo_totp_secret_hex
from siaga.demo.world import _ensure_demo_second_factors, demo_second_factor_accounts
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_demo_accounts_with_a_required_second_factor_get_the_demo_secret(world: World) -> None:
    TOTPDevice.objects.all().delete()
    _ensure_demo_second_factors()
    names = demo_second_factor_accounts()
    # Of the demo's accounts these exist in the test world; guards and operators have none.
    assert {"kapolres.okut", "komisioner.okut", "bawaslu.okut"} <= set(names)
    assert "jaga.okut" not in names and "kpu.okut" not in names
    for name in names:
        device = TOTPDevice.objects.get(user__username=name)
        assert device.key == demo_totp_secret_hex() and device.confirmed
    assert demo_totp_secret_hex() == bytes("Hello!\xde\xad\xbe\xef", "latin-1").hex() * 2


def test_demo_otp_prints_the_current_code(world: World) -> None:
    TOTPDevice.objects.all().delete()
    _ensure_demo_second_factors()
    out = io.StringIO()
    call_command("demo_otp", "kapolres.okut", stdout=out, stderr=io.StringIO())
    code = out.getvalue().strip()
    assert code == f"{totp(bytes.fromhex(demo_totp_secret_hex())):06d}"


def test_demo_otp_never_reads_out_a_real_authenticator(world: World) -> None:
    # The test personas carry another secret: not the demo's.
    assert TOTPDevice.objects.filter(user=User.objects.get(username="kapolres.okut")).exists()
    with pytest.raises(CommandError):
        call_command("demo_otp", "kapolres.okut", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("demo_otp", "jaga.okut", stdout=io.StringIO())

"""Two-factor sign-in in a real browser (Debian's chromium, driven by Playwright), with codes
computed in the test as an authenticator app would: a commissioner passes the second factor
after a wrong code, and a guard sets up an app, keeps the recovery codes, and signs in with
one of them."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.models import SignInEvent, User
from tests.conftest import PASSWORD, totp_code


def password_step(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.btn-primary[type=submit]")


@pytest.mark.django_db(transaction=True)
def test_a_commissioner_passes_the_second_factor_after_a_wrong_code(
    browser: Any, live_server: Any, commissioner_okut: User
) -> None:
    base = live_server.url
    page = browser.new_page()
    password_step(page, base, "komisioner.okut")
    page.wait_for_url(f"{base}/login/verify/**")
    # Nothing of SIAGA opens before the second factor.
    page.goto(f"{base}/ledger/")
    assert "/login/verify/" in page.url
    wrong = f"{(int(totp_code()) + 1) % 1_000_000:06d}"
    page.fill("#id_code", wrong)
    page.click("#otp-form button[type=submit]")
    assert page.locator("#otp-error").inner_text() == "Kode itu salah."
    assert "/login/verify/" in page.url
    # Within django-otp's pause (here: after three wrong codes, 4 s), even the right code is
    # not checked: the page says how long to wait.
    device = TOTPDevice.objects.filter(user=commissioner_okut)
    device.update(throttling_failure_count=3, throttling_failure_timestamp=timezone.now())
    page.fill("#id_code", totp_code())
    page.click("#otp-form button[type=submit]")
    error = page.locator("#otp-error").inner_text()
    assert "tunggu 4 detik" in error or "tunggu 3 detik" in error, error
    device.update(throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=5))
    page.fill("#id_code", totp_code())
    page.click("#otp-form button[type=submit]")
    page.wait_for_url(f"{base}/ledger/")
    kinds = list(
        SignInEvent.objects.filter(username="komisioner.okut")
        .order_by("at", "pk")
        .values_list("kind", flat=True)
    )
    assert kinds == ["signed_in", "otp_failed", "otp_failed", "otp_passed"]
    page.close()


@pytest.mark.django_db(transaction=True)
def test_a_guard_sets_up_an_app_and_later_signs_in_with_a_recovery_code(
    browser: Any, live_server: Any, guard_okut: User
) -> None:
    base = live_server.url
    context = browser.new_context()
    page = context.new_page()
    password_step(page, base, "jaga.okut")
    page.wait_for_url(f"{base}/")  # a guard may go without one
    page.goto(f"{base}/account/2fa/totp/")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert TOTPDevice.objects.filter(user=guard_okut).count() == 0  # showing writes nothing
    code = f"{totp(base64.b32decode(secret)):06d}"
    page.fill("#id_code", code)
    page.click("form button.btn-primary[type=submit]")
    page.wait_for_url(f"{base}/account/2fa/**")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    device = TOTPDevice.objects.get(user=guard_okut, confirmed=True)
    assert device.bin_key == base64.b32decode(secret)
    assert set(
        StaticToken.objects.filter(device__user=guard_okut).values_list("token", flat=True)
    ) == set(codes)
    context.close()

    # Later, on another phone: the password, then one recovery code, which is then used up.
    context = browser.new_context()
    page = context.new_page()
    password_step(page, base, "jaga.okut")
    page.wait_for_url(f"{base}/login/verify/**")
    page.fill("#id_code", codes[0])
    page.click("#otp-form button[type=submit]")
    page.wait_for_url(f"{base}/")
    left = set(StaticToken.objects.filter(device__user=guard_okut).values_list("token", flat=True))
    assert left == set(codes[1:])
    context.close()

"""The second factor: who must have one, the step after the password, enrolment, recovery
codes, changes on the ledger, the admin and API tokens behind it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.models import ApiToken, SignInEvent, User
from siaga.accounts.two_factor import requires_second_factor
from siaga.ledger.models import Entry
from tests.conftest import PASSWORD, TOTP_KEY, World, totp_code

pytestmark = pytest.mark.django_db


def secret_on(page: str) -> str:
    """The base32 key the setup page shows beside its QR code."""
    match = re.search(r'<code[^>]*id="totp-secret">([A-Z2-7 ]+)</code>', page)
    assert match is not None
    return match.group(1).replace(" ", "")


def code_for(secret: str) -> str:
    return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"


def password_step(client: Client, username: str) -> Any:
    return client.post("/login/", {"username": username, "password": PASSWORD})


def post_token(username: str, otp: str | None = None, address: str = "203.0.113.7") -> Any:
    body = {"username": username, "password": PASSWORD, "name": "laptop"}
    if otp is not None:
        body["otp"] = otp
    return Client(REMOTE_ADDR=address).post(
        "/api/v1/auth/token", body, content_type="application/json"
    )


def test_who_must_have_a_second_factor(world: World) -> None:
    expected = {
        "jaga.okut": False,
        "kpu.okut": False,
        "kpu.oku": False,
        "komisioner.okut": True,
        "kapolres.okut": True,
        "bawaslu.okut": True,
        "admin.okut": True,
        "admin.oku": True,
        "root": True,
    }
    assert {u: requires_second_factor(User.objects.get(username=u)) for u in expected} == expected
    staff = User.objects.create(username="staf", is_staff=True)
    assert requires_second_factor(staff)


@pytest.fixture
def no_device_backoff(settings: Any) -> None:
    """django-otp also slows a device after a wrong code (1 s, 2 s, 4 s…); off where a test
    types the right code straight after a wrong one (SIAGA's own throttle stays on)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.mark.usefixtures("no_device_backoff")
def test_kapolres_signs_in_with_password_then_code(client: Client, kapolres_okut: User) -> None:
    response = password_step(client, "kapolres.okut")
    assert response.status_code == 302
    assert response["Location"] == "/login/verify/"
    # Signed in by password only: nothing but the verification page.
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"] == "/login/verify/"
    assert client.get("/sites/")["Location"] == "/login/verify/?next=%2Fsites%2F"
    api = client.get("/api/v1/auth/me")
    assert (api.status_code, api.json()["code"]) == (401, "auth_second_factor_required")
    wrong = client.post("/login/verify/", {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get("/")["Location"] == "/login/verify/"
    right = client.post("/login/verify/", {"code": totp_code()})
    assert right.status_code == 302
    assert right["Location"] == "/"
    assert client.get("/").status_code == 200
    kinds = list(
        SignInEvent.objects.filter(user=kapolres_okut).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["signed_in", "otp_failed", "otp_passed"]


def test_verification_keeps_where_the_user_was_going(client: Client, kapolres_okut: User) -> None:
    response = client.post(
        "/login/", {"username": "kapolres.okut", "password": PASSWORD, "next": "/sites/"}
    )
    assert response["Location"] == "/login/verify/?next=%2Fsites%2F"
    done = client.post("/login/verify/", {"code": totp_code(), "next": "/sites/"})
    assert done["Location"] == "/sites/"


def test_wrong_codes_are_throttled_and_signing_in_again_does_not_reset_them(
    kapolres_okut: User,
) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    password_step(client, "kapolres.okut")
    for _ in range(3):
        assert client.post("/login/verify/", {"code": "000000"}).status_code == 200
    # The password again (a success): the code failures still count.
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert password_step(client, "kapolres.okut")["Location"] == "/login/verify/"
    assert client.post("/login/verify/", {"code": "000000"}).status_code == 200
    locked = client.post("/login/verify/", {"code": totp_code()})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_commissioner_without_a_second_factor_must_enrol_first(
    client: Client, commissioner_okut: User
) -> None:
    TOTPDevice.objects.filter(user=commissioner_okut).delete()
    response = password_step(client, "komisioner.okut")
    assert response["Location"] == "/account/2fa/"
    assert client.get("/")["Location"] == "/account/2fa/"
    assert client.get("/gerbang/")["Location"].startswith("/account/2fa/?next=")
    assert client.post("/account/tokens/", {"name": "x"})["Location"] == "/account/2fa/"
    api = client.get("/api/v1/auth/me")
    assert (api.status_code, api.json()["code"]) == (403, "auth_second_factor_enrolment_required")
    assert ApiToken.objects.count() == 0

    page = client.get("/account/2fa/")
    assert page.status_code == 200
    setup = client.get("/account/2fa/totp/")
    assert setup.status_code == 200
    assert 'src="data:image/svg+xml' in setup.content.decode()
    # Showing the page stores nothing: the new secret waits in the session.
    assert not TOTPDevice.objects.filter(user=commissioner_okut).exists()
    secret = secret_on(setup.content.decode())
    refused = client.post("/account/2fa/totp/", {"code": "123456"})
    assert refused.status_code == 200
    assert not TOTPDevice.objects.filter(user=commissioner_okut).exists()
    done = client.post("/account/2fa/totp/", {"code": code_for(secret)})
    assert done.status_code == 302
    device = TOTPDevice.objects.get(user=commissioner_okut)
    assert device.confirmed and bytes(device.bin_key) == base64.b32decode(secret)
    # The recovery codes: shown once.
    shown = client.get("/account/2fa/").content.decode()
    codes = re.findall(r'<li class="col-6 col-md-3">([a-z0-9]+)</li>', shown)
    assert len(codes) == 10
    assert set(codes) == set(
        StaticToken.objects.filter(device__user=commissioner_okut).values_list("token", flat=True)
    )
    assert codes[0] not in client.get("/account/2fa/").content.decode()
    # Enrolled and verified: the rest of SIAGA opens.
    assert client.get("/").status_code == 200
    entry = Entry.objects.get(kind="user.2fa_enabled", subject_id=str(commissioner_okut.pk))
    assert json.loads(entry.payload) == {"method": "totp", "recovery_code_count": 10}
    assert device.key not in entry.payload and codes[0] not in entry.payload
    assert SignInEvent.objects.filter(kind="2fa_enabled", user=commissioner_okut).count() == 1


def test_a_recovery_code_works_once(kapolres_okut: User, client_for: Any) -> None:
    client_for(kapolres_okut).post("/account/2fa/codes/")
    codes = list(
        StaticToken.objects.filter(device__user=kapolres_okut).values_list("token", flat=True)
    )
    assert len(codes) == 10
    first = Client()
    password_step(first, "kapolres.okut")
    assert first.post("/login/verify/", {"code": codes[0]})["Location"] == "/"
    second = Client()
    password_step(second, "kapolres.okut")
    assert second.post("/login/verify/", {"code": codes[0]}).status_code == 200
    assert second.get("/")["Location"] == "/login/verify/"
    assert StaticToken.objects.filter(device__user=kapolres_okut).count() == 9
    regenerated = Entry.objects.get(kind="user.recovery_codes_regenerated")
    assert json.loads(regenerated.payload) == {"recovery_code_count": 10}


def test_regenerating_codes_voids_the_old_ones(kapolres_okut: User, client_for: Any) -> None:
    client = client_for(kapolres_okut)
    client.post("/account/2fa/codes/")
    old = set(
        StaticToken.objects.filter(device__user=kapolres_okut).values_list("token", flat=True)
    )
    client.post("/account/2fa/codes/")
    new = set(
        StaticToken.objects.filter(device__user=kapolres_okut).values_list("token", flat=True)
    )
    assert len(new) == 10 and not old & new
    assert Entry.objects.filter(kind="user.recovery_codes_regenerated").count() == 2


def test_a_guard_may_go_without_and_may_add_one(client: Client, guard_okut: User) -> None:
    assert password_step(client, "jaga.okut")["Location"] == "/"
    assert client.get("/").status_code == 200
    secret = secret_on(client.get("/account/2fa/totp/").content.decode())
    client.post("/account/2fa/totp/", {"code": code_for(secret)})
    # From now on the guard passes it too.
    again = Client()
    assert password_step(again, "jaga.okut")["Location"] == "/login/verify/"
    # And may remove it again.
    removed = client.post("/account/2fa/totp/remove/")
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=guard_okut).exists()
    assert not StaticToken.objects.filter(device__user=guard_okut).exists()
    entry = Entry.objects.get(kind="user.2fa_disabled", subject_id=str(guard_okut.pk))
    assert json.loads(entry.payload) == {"method": "totp"}


def test_a_required_role_cannot_remove_its_last_factor(
    kapolres_okut: User, client_for: Any
) -> None:
    response = client_for(kapolres_okut).post("/account/2fa/totp/remove/", follow=True)
    assert response.status_code == 200
    assert TOTPDevice.objects.filter(user=kapolres_okut, confirmed=True).count() == 1
    assert not Entry.objects.filter(kind="user.2fa_disabled").exists()


def test_admin_needs_a_verified_session(client_for: Any, root: User) -> None:
    unverified = client_for(root, verified=False)
    response = unverified.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/verify/?next=%2Fadmin%2F"
    assert client_for(root).get("/admin/").status_code == 200
    # The site checks it itself too, not only the middleware.
    request = RequestFactory().get("/admin/")
    request.user = root
    root.is_verified = lambda: False  # type: ignore[attr-defined]
    assert admin.site.has_permission(request) is False
    root.is_verified = lambda: True  # type: ignore[attr-defined]
    assert admin.site.has_permission(request) is True


def test_admin_login_page_hands_over_to_siaga_sign_in(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2F"


@pytest.mark.usefixtures("no_device_backoff")
def test_api_token_for_a_required_role_needs_the_code(kapolres_okut: User) -> None:
    missing = post_token("kapolres.okut")
    assert (missing.status_code, missing.json()["code"]) == (401, "auth_second_factor_required")
    wrong = post_token("kapolres.okut", otp="000000")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "auth_second_factor_invalid")
    assert ApiToken.objects.count() == 0
    right = post_token("kapolres.okut", otp=totp_code())
    assert right.status_code == 201
    assert ApiToken.objects.filter(user=kapolres_okut).count() == 1
    assert SignInEvent.objects.filter(kind="token_issued", user=kapolres_okut).count() == 1
    assert SignInEvent.objects.filter(kind="otp_failed", user=kapolres_okut).count() == 1


def test_api_token_refused_to_a_required_role_without_a_second_factor(
    commissioner_okut: User,
) -> None:
    TOTPDevice.objects.filter(user=commissioner_okut).delete()
    response = post_token("komisioner.okut", otp="123456")
    assert response.status_code == 403
    assert response.json()["code"] == "auth_second_factor_enrolment_required"
    assert ApiToken.objects.count() == 0


def test_api_code_guessing_is_throttled(kapolres_okut: User) -> None:
    answers = [post_token("kapolres.okut", otp=f"{n:06d}") for n in range(5)]
    # A wrong code; then either django-otp's pause (a try within it is not checked) or, on a
    # slow machine past the pause, another wrong code: each counts as a failure, and the
    # fifth locks the account for the cool-off; then even the right code is refused.
    codes = [(a.status_code, a.json()["code"]) for a in answers]
    assert codes[0] == (401, "auth_second_factor_invalid")
    assert set(codes[1:4]) <= {
        (429, "auth_second_factor_wait"),
        (401, "auth_second_factor_invalid"),
    }
    assert codes[4] == (429, "auth_throttled")
    right = post_token("kapolres.okut", otp=totp_code())
    assert (right.status_code, right.json()["code"]) == (429, "auth_throttled")
    assert ApiToken.objects.count() == 0


def test_a_right_code_within_the_pause_is_told_to_wait(kapolres_okut: User) -> None:
    # Three wrong codes just now: django-otp waits 4 s before it checks another.
    TOTPDevice.objects.filter(user=kapolres_okut).update(
        throttling_failure_count=3, throttling_failure_timestamp=timezone.now()
    )
    answer = post_token("kapolres.okut", otp=totp_code())
    assert (answer.status_code, answer.json()["code"]) == (429, "auth_second_factor_wait")
    assert answer.json()["detail"]["retry_after"] in (3, 4)
    assert ApiToken.objects.count() == 0
    # Past the pause the same code is checked, and passes.
    TOTPDevice.objects.filter(user=kapolres_okut).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=5)
    )
    assert post_token("kapolres.okut", otp=totp_code()).status_code == 201


def test_a_guard_without_a_second_factor_gets_a_token_without_code(guard_okut: User) -> None:
    assert post_token("jaga.okut").status_code == 201


def test_the_fixed_test_key_is_what_personas_use(kapolres_okut: User) -> None:
    assert TOTPDevice.objects.get(user=kapolres_okut).key == TOTP_KEY

"""Sign-in throttling: by account and address together, by account, by address (spraying);
a lock that attempts during it do not restart; every outcome on the sign-in record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.utils import timezone

from siaga.accounts import audit
from siaga.accounts.models import ApiToken, SignInEvent, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def post_token(username: str, password: str, address: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/api/v1/auth/token",
        {"username": username, "password": password, "name": "gate phone"},
        content_type="application/json",
    )


def web_login(username: str, password: str, address: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


def _age_attempts(minutes: float) -> None:
    """As if ``minutes`` had passed since every recorded failure."""
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - timedelta(minutes=minutes)
        )


def test_password_spraying_from_one_address_is_stopped(world: Any, operator_okut: User) -> None:
    User.objects.bulk_create([User(username=f"petugas{n:02}", password="!") for n in range(50)])
    answers = [post_token(f"petugas{n:02}", "Musim-hujan-2029").status_code for n in range(50)]
    # The address's limit is 20 failures: the 20th sets the lock, and every further try from
    # the address is refused without its password being checked.
    assert answers == [401] * 19 + [429] * 31
    assert post_token("kpu.okut", PASSWORD).status_code == 429
    assert ApiToken.objects.count() == 0
    # Another address is not held back by this one.
    assert post_token("kpu.okut", PASSWORD, address="198.51.100.9").status_code == 201
    # Each failure is kept with the name tried and the address.
    failed = SignInEvent.objects.filter(kind="failed", ip_address="203.0.113.7")
    assert failed.count() == 20
    assert set(failed.values_list("username", flat=True)) == {f"petugas{n:02}" for n in range(20)}
    assert SignInEvent.objects.filter(kind="refused_locked", ip_address="203.0.113.7").count() == 31


def test_spraying_the_web_form_is_stopped_too(world: Any) -> None:
    answers = [web_login(f"nobody{n}", "Musim-hujan-2029").status_code for n in range(22)]
    assert answers == [200] * 19 + [429] * 3


def test_one_account_tried_from_many_addresses_is_locked(guard_okut: User) -> None:
    answers = [
        post_token("jaga.okut", "wrong", address=f"198.51.100.{n}").status_code
        for n in range(1, 22)
    ]
    assert answers == [401] * 19 + [429] * 2
    assert post_token("jaga.okut", PASSWORD, address="192.0.2.50").status_code == 429


def test_a_lock_is_not_restarted_by_attempts_during_it(guard_okut: User) -> None:
    for _ in range(5):
        post_token("jaga.okut", "wrong")
    assert post_token("jaga.okut", PASSWORD).status_code == 429
    locked_at = AccessAttempt.objects.get(username="jaga.okut").attempt_time
    _age_attempts(14)  # 14 of the 15 minutes have passed
    # Someone keeps trying during the lock, with wrong and right passwords.
    for password in ["wrong"] * 10 + [PASSWORD]:
        assert post_token("jaga.okut", password).status_code == 429
    attempt = AccessAttempt.objects.get(username="jaga.okut")
    assert attempt.failures_since_start == 5
    assert attempt.attempt_time == locked_at - timedelta(minutes=14)
    _age_attempts(1.5)  # the lock set 15.5 minutes ago is over
    assert post_token("jaga.okut", PASSWORD).status_code == 201


def test_a_success_does_not_clear_the_address_count(world: Any, operator_okut: User) -> None:
    for n in range(19):
        post_token(f"nobody{n}", "wrong")
    # The sprayer signs in with an account of their own...
    assert post_token("kpu.okut", PASSWORD).status_code == 201
    # ...and the address is still one failure from its limit.
    assert post_token("nobody99", "wrong").status_code == 429


def test_failures_are_kept_after_the_cool_off(guard_okut: User) -> None:
    for _ in range(2):
        post_token("jaga.okut", "wrong")
    _age_attempts(60)
    SignInEvent.objects.update(at=timezone.now() - timedelta(minutes=60))
    AccessFailureLog.objects.update(attempt_time=timezone.now() - timedelta(minutes=60))
    assert post_token("jaga.okut", PASSWORD).status_code == 201
    assert SignInEvent.objects.filter(kind="failed", username="jaga.okut").count() == 2
    assert AccessFailureLog.objects.filter(username="jaga.okut").count() == 2
    assert SignInEvent.objects.filter(kind="token_issued", user=guard_okut).count() == 1


def test_retention_purges_only_what_is_older(guard_okut: User, settings: Any) -> None:
    settings.SIGNIN_LOG_RETENTION_DAYS = 30
    post_token("jaga.okut", "wrong")
    post_token("jaga.okut", "wrong")
    old = SignInEvent.objects.order_by("id").first()
    assert old is not None
    SignInEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    assert audit.purge_expired() == 1
    assert SignInEvent.objects.filter(kind="failed", username="jaga.okut").count() == 1


def test_web_sign_in_is_recorded_with_the_address(guard_okut: User) -> None:
    response = web_login("jaga.okut", PASSWORD, address="192.0.2.10")
    assert response.status_code == 302
    event = SignInEvent.objects.get(kind="signed_in")
    assert (event.user, event.ip_address, event.channel) == (guard_okut, "192.0.2.10", "web")


def test_api_token_issue_is_recorded_as_a_sign_in(guard_okut: User) -> None:
    response = post_token("jaga.okut", PASSWORD, address="192.0.2.11")
    assert response.status_code == 201
    event = SignInEvent.objects.get(kind="token_issued")
    assert (event.user, event.ip_address, event.channel) == (guard_okut, "192.0.2.11", "api")
    assert event.detail["token"] == response.json()["id"]
    assert response.json()["token"] not in str(event.detail)

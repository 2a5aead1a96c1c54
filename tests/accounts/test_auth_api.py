from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from siaga.accounts.models import ApiToken, SignInEvent, User, hash_token
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def post_token(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password, "name": "gate phone"},
        content_type="application/json",
        **extra,
    )


def test_password_gives_a_token_stored_only_as_hash(client: Client, guard_okut: User) -> None:
    response = post_token(client, "jaga.okut", PASSWORD)
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("sg_") and len(raw) > 40
    token = ApiToken.objects.get(user=guard_okut)
    assert token.key_hash == hash_token(raw)
    assert token.prefix == raw[:10]
    assert token.name == "gate phone"
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.expires_at > timezone.now() + timedelta(days=89)


def test_token_authenticates_api_calls(client: Client, guard_okut: User) -> None:
    raw = post_token(client, "jaga.okut", PASSWORD).json()["token"]
    response = Client().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "jaga.okut"
    assert body["memberships"][0]["role"] == "guard"
    assert body["memberships"][0]["region"] == "16.08"
    assert "operate_gate" in body["memberships"][0]["actions"]
    assert ApiToken.objects.get(user=guard_okut).last_used_at is not None


def test_wrong_password_is_401_and_no_token(client: Client, guard_okut: User) -> None:
    response = post_token(client, "jaga.okut", "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "auth_invalid_credentials"
    assert ApiToken.objects.count() == 0


def test_unknown_user_is_401_like_a_wrong_password(client: Client) -> None:
    response = post_token(client, "nobody", "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "auth_invalid_credentials"


def test_inactive_user_gets_no_token(client: Client, guard_okut: User) -> None:
    User.objects.filter(pk=guard_okut.pk).update(is_active=False)
    response = post_token(client, "jaga.okut", PASSWORD)
    assert response.status_code == 401
    assert ApiToken.objects.count() == 0


def test_repeated_failures_are_throttled_even_with_the_right_password(
    client: Client, guard_okut: User
) -> None:
    for _ in range(4):
        assert post_token(client, "jaga.okut", "wrong").status_code == 401
    fifth = post_token(client, "jaga.okut", "wrong")
    assert fifth.status_code == 429
    assert fifth.json()["code"] == "auth_throttled"
    response = post_token(client, "jaga.okut", PASSWORD)
    assert response.status_code == 429
    assert response.json()["code"] == "auth_throttled"
    assert ApiToken.objects.count() == 0
    # An attempt refused while locked does not count (nor restart the lock); it is recorded.
    assert AccessAttempt.objects.get(username="jaga.okut").failures_since_start == 5
    assert SignInEvent.objects.filter(username="jaga.okut", kind="refused_locked").count() == 1


def test_throttle_is_per_username(client: Client, guard_okut: User, operator_okut: User) -> None:
    for _ in range(5):
        post_token(client, "jaga.okut", "wrong")
    assert post_token(client, "kpu.okut", PASSWORD).status_code == 201


def test_web_login_is_throttled_too(client: Client, guard_okut: User) -> None:
    for _ in range(4):
        response = client.post("/login/", {"username": "jaga.okut", "password": "wrong"})
        assert response.status_code == 200
    client.post("/login/", {"username": "jaga.okut", "password": "wrong"})
    response = client.post("/login/", {"username": "jaga.okut", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "jaga.okut"},
        {"username": "", "password": "x"},
        {"username": 5, "password": []},
    ],
)
def test_malformed_token_request_is_422(client: Client, payload: dict[str, Any]) -> None:
    response = client.post("/api/v1/auth/token", payload, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert ApiToken.objects.count() == 0


def test_body_that_is_not_json_is_refused(client: Client) -> None:
    response = client.post("/api/v1/auth/token", "not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("bad_request", "validation_error")


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sg_not-a-real-token", "Token abc", "Basic amFnYTp4", "Bearer "],
)
def test_missing_or_invalid_token_is_401(client: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "auth_required"


def test_revoked_and_expired_tokens_are_refused(client: Client, guard_okut: User) -> None:
    raw = post_token(client, "jaga.okut", PASSWORD).json()["token"]
    token = ApiToken.objects.get(user=guard_okut)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=1))
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoked = client.delete(f"/api/v1/auth/tokens/{token.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_token_of_deactivated_user_is_refused(client: Client, guard_okut: User) -> None:
    raw = post_token(client, "jaga.okut", PASSWORD).json()["token"]
    User.objects.filter(pk=guard_okut.pk).update(is_active=False)
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_nobody_revokes_another_persons_token(
    client: Client, guard_okut: User, kpu_oku: User
) -> None:
    post_token(client, "jaga.okut", PASSWORD)
    token = ApiToken.objects.get(user=guard_okut)
    other = Client()
    other.force_login(kpu_oku)
    response = other.delete(f"/api/v1/auth/tokens/{token.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"
    token.refresh_from_db()
    assert token.revoked_at is None


def test_session_writes_need_csrf(guard_okut: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(guard_okut)
    post_token(Client(), "jaga.okut", PASSWORD)
    token = ApiToken.objects.get(user=guard_okut)
    response = client.delete(f"/api/v1/auth/tokens/{token.pk}")
    assert response.status_code in (401, 403)
    token.refresh_from_db()
    assert token.revoked_at is None

"""A person's own password: at least 12 characters and not common; a change page for every
signed-in user; a reset link through the outbox; tokens revoked and the ledger told."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from siaga.accounts.models import ApiToken, SignInEvent, User
from siaga.accounts.services import issue_api_token
from siaga.ledger.models import Entry
from siaga.notify.models import Message
from tests.conftest import PASSWORD, PRODUCTION_PASSWORD_HASHERS

pytestmark = pytest.mark.django_db

NEW = "Sungai Komering 2029"


@pytest.mark.parametrize("weak", ["short-pass1", "password1234", "123456789012345"])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(weak)


def test_twelve_characters_pass() -> None:
    validate_password("Komering-29x")


def change(client: Client, old: str, new: str) -> Any:
    return client.post(
        "/account/password/",
        {"old_password": old, "new_password1": new, "new_password2": new},
    )


def test_guard_changes_his_password_and_his_tokens_are_revoked(
    client_for: Any, guard_okut: User
) -> None:
    token, _raw = issue_api_token(actor=guard_okut, name="gate phone")
    client = client_for(guard_okut)
    assert client.get("/account/password/").status_code == 200
    response = change(client, PASSWORD, NEW)
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert User.objects.get(pk=guard_okut.pk).check_password(NEW)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    entry = Entry.objects.get(kind="user.password_changed", subject_id=str(guard_okut.pk))
    assert entry.actor == "jaga.okut"
    assert json.loads(entry.payload) == {"via": "self", "api_tokens_revoked": 1}
    assert NEW not in entry.payload
    assert SignInEvent.objects.filter(kind="password_changed", user=guard_okut).count() == 1
    # Still signed in on this browser.
    assert client.get("/account/").status_code == 200


def test_eleven_characters_are_refused_and_nothing_changes(
    client_for: Any, guard_okut: User
) -> None:
    token, _raw = issue_api_token(actor=guard_okut, name="gate phone")
    response = change(client_for(guard_okut), PASSWORD, "short-pass1")
    assert response.status_code == 200
    assert "12" in response.content.decode()
    assert User.objects.get(pk=guard_okut.pk).check_password(PASSWORD)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert not Entry.objects.filter(kind="user.password_changed").exists()


def test_password_change_needs_a_signed_in_user(client: Client) -> None:
    response = client.get("/account/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_reset_link_goes_through_the_outbox_and_the_reset_revokes_tokens(
    client: Client, guard_okut: User, settings: Any
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.PUBLIC_URL = "https://siaga.example.id"
    User.objects.filter(pk=guard_okut.pk).update(email="jaga@example.id")
    token, _raw = issue_api_token(actor=guard_okut, name="gate phone")
    assert client.get("/password-reset/").status_code == 200
    response = client.post("/password-reset/", {"email": "jaga@example.id"}, HTTP_HOST="localhost")
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    mail = Message.objects.get(user=guard_okut, channel="email", kind="account.password_reset")
    assert mail.endpoint is not None and mail.endpoint.address == "jaga@example.id"
    # The link is built on SIAGA_PUBLIC_URL, never on the Host the request named.
    match = re.search(r"https://siaga\.example\.id(/password-reset/[^/\s]+/[^/\s]+/)", mail.body)
    assert match is not None, mail.body
    assert "localhost" not in mail.body
    link = match.group(1)
    page = client.get(link)
    assert page.status_code == 302  # Django swaps the token into the session first
    form_url = page["Location"]
    response = client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert User.objects.get(pk=guard_okut.pk).check_password(NEW)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    entry = Entry.objects.get(kind="user.password_changed", subject_id=str(guard_okut.pk))
    assert json.loads(entry.payload) == {"via": "reset", "api_tokens_revoked": 1}
    # The link works once.
    again = client.get(link, follow=True)
    assert again.status_code == 200
    assert 'name="new_password1"' not in again.content.decode()


def test_reset_for_an_unknown_address_sends_nothing(client: Client, guard_okut: User) -> None:
    response = client.post("/password-reset/", {"email": "nobody@example.id"})
    assert response.status_code == 302
    assert not Message.objects.filter(kind="account.password_reset").exists()


def test_passwords_are_stored_with_argon2_and_a_pbkdf2_one_is_upgraded_at_sign_in(
    client: Client, guard_okut: User, settings: Any
) -> None:
    """The suite hashes with MD5 for speed (tests/conftest.py); production's hashers are these."""
    from django.contrib.auth.hashers import make_password

    settings.PASSWORD_HASHERS = PRODUCTION_PASSWORD_HASHERS
    assert PRODUCTION_PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    guard_okut.set_password(NEW)
    guard_okut.save()
    stored = User.objects.get(pk=guard_okut.pk).password
    assert stored.startswith("argon2$argon2id$")
    assert User.objects.get(pk=guard_okut.pk).check_password(NEW)
    assert not User.objects.get(pk=guard_okut.pk).check_password(PASSWORD)
    pbkdf2 = make_password(NEW, hasher="pbkdf2_sha256")
    User.objects.filter(pk=guard_okut.pk).update(password=pbkdf2)
    response = client.post("/login/", {"username": "jaga.okut", "password": NEW})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert User.objects.get(pk=guard_okut.pk).password.startswith("argon2$argon2id$")

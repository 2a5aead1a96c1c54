"""A person's own password: change it signed in, or reset it by a link sent through the outbox.

Either way every API token of theirs is revoked and the change is on the ledger as
``user.password_changed`` (never the password), like an admin's reset of it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from siaga.accounts import audit, services
from siaga.accounts.models import SignInEventKind, User
from siaga.ledger import services as ledger


def password_changed(*, user: User, request: HttpRequest | None, via: str) -> int:
    """After ``user``'s new password is saved (``via``: ``self`` or ``reset``), in the same
    transaction: revoke their tokens, write the ledger and the sign-in record. How many tokens."""
    with transaction.atomic():
        revoked = services.revoke_all_api_tokens(user=user)
        ledger.append(
            kind="user.password_changed",
            subject=user,
            actor=user,
            payload={"via": via, "api_tokens_revoked": revoked},
        )
        audit.record(
            SignInEventKind.PASSWORD_CHANGED,
            request=request,
            user=user,
            detail={"via": via, "api_tokens_revoked": revoked},
        )
    return revoked


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, with the link sent as a SIAGA message (outbox, e-mail channel)
    in the language of the page it was asked from. The link is built on SIAGA_PUBLIC_URL,
    never on the request's Host (which an attacker chooses)."""

    _request: HttpRequest | None = None

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._request = kwargs.get("request")
        super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        from siaga.notify import services as notify

        user = context["user"]
        path = reverse(
            "password-reset-confirm", kwargs={"uidb64": context["uid"], "token": context["token"]}
        )
        body = _(
            "Someone (hopefully you) asked to reset the SIAGA password of %(username)s. "
            "Open this link within an hour to choose a new one: %(url)s\n"
            "If it was not you, ignore this message; your password stays as it is."
        ) % {"username": user.username, "url": settings.PUBLIC_URL.rstrip("/") + path}
        with transaction.atomic():
            notify.notify_user(
                user,
                kind="account.password_reset",
                title=_("Reset your SIAGA password"),
                body=body,
                url=path,
                dedup_key=f"password-reset:{user.pk}:{context['token']}",
            )
            audit.record(SignInEventKind.PASSWORD_RESET_REQUESTED, request=self._request, user=user)

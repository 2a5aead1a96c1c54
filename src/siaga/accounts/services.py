"""Use cases of accounts: memberships, sign-in for the API, API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import AgencyUnit, ApiToken, Membership, User, hash_token
from siaga.accounts.permissions import Action, role_fits_agency
from siaga.accounts.scoping import forget_scope, user_can
from siaga.core.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from siaga.core.rows import Columns
from siaga.ledger import services as ledger

TOKEN_PREFIX = "sg_"  # noqa: S105 - a marker, not a secret


def authenticate_password(*, request: HttpRequest, username: str, password: str) -> User:
    """The user with these credentials, or an error; repeated failures are throttled."""
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise TooManyRequests(
            "auth_throttled",
            _("Too many failed sign-in attempts. Wait 15 minutes and try again."),
        )
    if user is None or not user.is_active:
        raise NotAuthenticated("auth_invalid_credentials", _("The username or password is wrong."))
    assert isinstance(user, User)
    return user


def check_second_factor_for_token(*, request: HttpRequest, user: User, code: str) -> None:
    """Before a token is issued over the API: the second factor of an account that has one
    (or must have one). A wrong code counts as a failed sign-in; a whole sign-in clears the
    account's failure counts."""
    from siaga.accounts import throttle, two_factor

    if two_factor.has_second_factor(user):
        if not code.strip():
            raise NotAuthenticated(
                "auth_second_factor_required",
                _("This account signs in with a second factor: send its code as otp."),
            )
        wait = two_factor.retry_after(user)  # django-otp's pause after wrong codes
        if two_factor.check_code(user=user, code=code, request=request) is None:
            if getattr(request, "axes_locked_out", False):
                raise TooManyRequests(
                    "auth_throttled",
                    _("Too many failed sign-in attempts. Wait 15 minutes and try again."),
                )
            if wait:
                raise TooManyRequests(
                    "auth_second_factor_wait",
                    _("Too many wrong codes in a row: wait, then send the code the app shows."),
                    detail={"retry_after": wait},
                )
            raise NotAuthenticated("auth_second_factor_invalid", _("The code is not right."))
        return
    if two_factor.requires_second_factor(user):
        raise PermissionDenied(
            "auth_second_factor_enrolment_required",
            _("Your role signs in with a second factor: set one up on your account page first."),
        )
    throttle.clear_account(user.username)


def issue_api_token(
    *, actor: User, name: str, days: int | None = None, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``actor``; the raw value is returned once and never stored. The issue
    is on the sign-in record (with the request's address when there is one)."""
    from siaga.accounts import audit
    from siaga.accounts.models import SignInEventKind

    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("token_name_invalid", _("Give the token a name of 1 to 100 characters."))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = timedelta(days=days or settings.API_TOKEN_DAYS)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            prefix=raw[:10],
            key_hash=hash_token(raw),
            expires_at=timezone.now() + lifetime,
        )
        audit.record(
            SignInEventKind.TOKEN_ISSUED,
            request=request,
            user=actor,
            detail={"token": str(token.id), "prefix": token.prefix, "name": name},
        )
    return token, raw


_TOKEN_COLUMNS: tuple[Columns, Columns] | None = None


def _token_with_user(key_hash: str) -> ApiToken | None:
    """The token and its user in one plain query (``siaga.core.rows``): every API request
    reads them, and compiling the ORM's join cost more than running it."""
    global _TOKEN_COLUMNS
    if _TOKEN_COLUMNS is None:
        _TOKEN_COLUMNS = (Columns(ApiToken, "t"), Columns(User, "u"))
    own, person = _TOKEN_COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {own.sql()}, {person.sql()} "  # noqa: S608 - column names from the models
            f'FROM "{ApiToken._meta.db_table}" t '
            f'JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" '
            'WHERE t."key_hash" = %s',
            [key_hash],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    token = own.build(row)
    user = person.build(row, len(own))
    assert isinstance(token, ApiToken) and isinstance(user, User)
    token.user = user
    return token


def user_for_token(raw: str) -> User | None:
    """The active user behind a usable token, marking the token as used."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = _token_with_user(hash_token(raw))
    if token is None:
        return None
    now = timezone.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    # Once a minute is enough to show "last used" without a write per request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_all_api_tokens(*, user: User) -> int:
    """Revoke every usable token of ``user`` (after a password change or reset); how many.

    Runs inside the caller's transaction when there is one, so the revocation and the new
    password land together.
    """
    now = timezone.now()
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )


def revoke_api_token(*, actor: User, token_id: Any) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
        if token is None:
            raise NotFound("token_not_found", _("No such token."))
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at", "updated_at"])
    return token


def add_membership(*, actor: User | None, user: User, unit: AgencyUnit, role: str) -> Membership:
    """Give ``user`` a role in ``unit``. ``actor=None`` is the system (set-up, demo data)."""
    if actor is not None and not user_can(actor, Action.MANAGE_ACCOUNTS, unit.region_id):
        raise PermissionDenied("forbidden", _("You may not manage accounts of this unit."))
    if not role_fits_agency(role, unit.agency.kind):
        raise InvalidInput(
            "role_not_in_agency",
            _("This role does not exist in this agency."),
            detail={"role": role, "agency": unit.agency.kind},
        )
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=user, unit=unit, defaults={"role": role}
        )
        if not created and membership.role != role:
            raise Conflict(
                "membership_exists",
                _("This person already has another role in this unit."),
                detail={"role": membership.role},
            )
        if created:
            ledger.append(
                kind="membership.granted",
                subject=membership,
                actor=actor.username if actor is not None else "system",
                unit=unit,
                region=unit.region_id,
                payload={"user": user.username, "unit": unit.name, "role": role},
            )
    forget_scope(user)
    return membership

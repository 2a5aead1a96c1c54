"""The second factor: who must have one, enrolment, verification, changes on the ledger.

Built on django-otp (TOTP in an authenticator app, ten single-use recovery codes) and
django-otp-webauthn (passkeys); docs/accounts.md says why these. A session counts as verified
once ``django_otp.login`` has run for one of the user's confirmed devices
(``request.user.is_verified()``); ``SecondFactorMiddleware`` keeps an unverified session on
the verification page, and a user who must have a second factor but has none on enrolment.
"""

from __future__ import annotations

import math
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key
from django_otp_webauthn.models import WebAuthnCredential

from siaga.accounts import audit, throttle
from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, SignInEventKind, User
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied
from siaga.ledger import services as ledger

# The roles whose holders sign in with a second factor: unit admins (they grant memberships),
# KPU commissioners (the chair among them), police commanders (the Kapolres) and Bawaslu.
# Superusers and staff (the admin) too. Operators, guards and viewers may add one.
SECOND_FACTOR_ROLES = frozenset(
    {Role.ADMIN, Role.KPU_COMMISSIONER, Role.POLICE_COMMANDER, Role.BAWASLU_SUPERVISOR}
)
RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def requires_second_factor(user: Any) -> bool:
    """Must ``user`` pass a second factor to use SIAGA? The one definition."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.is_staff:
        return True
    return Membership.objects.filter(
        user_id=user.pk, active=True, role__in=SECOND_FACTOR_ROLES
    ).exists()


def has_second_factor(user: Any) -> bool:
    """A confirmed authenticator app or passkey (recovery codes alone are no factor)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user_id=user.pk, confirmed=True).exists()
    )


def _record(
    kind: str, ledger_kind: str, *, user: User, request: HttpRequest | None, **payload: Any
) -> None:
    """One 2FA change: on the ledger (no secret, no code) and on the sign-in record."""
    ledger.append(kind=ledger_kind, subject=user, actor=user, payload=payload)
    audit.record(kind, request=request, user=user, detail=payload)


# --- Enrolment --------------------------------------------------------------------------


PENDING_SESSION_KEY = "siaga_totp_pending"


def pending_totp(request: HttpRequest) -> TOTPDevice:
    """The authenticator being set up, unsaved: its fresh secret waits in the session (never
    in the database) until a code from the app confirms it, so that showing the page
    changes nothing."""
    key = request.session.get(PENDING_SESSION_KEY)
    if not key:
        key = default_key()
        request.session[PENDING_SESSION_KEY] = key
    return TOTPDevice(user=request.user, name=TOTP_NAME, key=key, confirmed=False)


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// link as an SVG QR code (a data: URI, allowed by the CSP's img-src)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def confirm_totp(*, request: HttpRequest, code: str) -> list[str]:
    """Confirm the pending authenticator with a code from it; the new recovery codes (shown
    once). It replaces any earlier one, and the session becomes verified with it."""
    user = request.user
    assert isinstance(user, User)
    key = request.session.get(PENDING_SESSION_KEY)
    if not key:
        raise NotFound("otp_no_pending_device", _("Start setting up the authenticator again."))
    pending = TOTPDevice(user=user, name=TOTP_NAME, key=key)
    checker = TOTP(pending.bin_key, step=pending.step, t0=pending.t0, digits=pending.digits)
    token = _digits(code)
    if not (token.isdigit() and checker.verify(int(token), tolerance=pending.tolerance)):
        raise InvalidInput(
            "otp_invalid", _("That code is not right. Type the code the app shows now.")
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()  # one app at a time
        device = TOTPDevice.objects.create(
            user=user, name=TOTP_NAME, key=key, confirmed=True, last_t=checker.t()
        )
        codes = _new_recovery_codes(user)
        _record(
            SignInEventKind.TWO_FACTOR_ENABLED,
            "user.2fa_enabled",
            user=user,
            request=request,
            method="totp",
            recovery_code_count=len(codes),
        )
    del request.session[PENDING_SESSION_KEY]
    otp_login(request, device)
    return codes


def passkey_registered(*, credential: WebAuthnCredential, request: HttpRequest | None) -> None:
    """After django-otp-webauthn saved a new passkey: recovery codes if there are none yet."""
    with transaction.atomic():
        user = credential.user
        had_codes = StaticDevice.objects.filter(user=user).exists()
        _record(
            SignInEventKind.TWO_FACTOR_ENABLED,
            "user.2fa_enabled",
            user=user,
            request=request,
            method="passkey",
            name=credential.name,
        )
    if not had_codes and request is not None:
        request.session["siaga_recovery_codes"] = regenerate_recovery_codes(
            user=user, request=request
        )


def regenerate_recovery_codes(*, user: User, request: HttpRequest | None) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        _record(
            SignInEventKind.RECOVERY_CODES_REGENERATED,
            "user.recovery_codes_regenerated",
            user=user,
            request=request,
            recovery_code_count=len(codes),
        )
    return codes


def remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def disable(
    *, user: User, method: str, request: HttpRequest | None, passkey_id: Any = None
) -> None:
    """Remove the authenticator (``totp``) or one passkey. Someone who must have a second
    factor cannot remove their last one; without any factor the recovery codes go too."""
    with transaction.atomic():
        if method == "totp":
            devices = TOTPDevice.objects.filter(user=user, confirmed=True)
            remaining = WebAuthnCredential.objects.filter(user=user, confirmed=True)
        elif method == "passkey":
            devices = WebAuthnCredential.objects.filter(user=user, pk=passkey_id)
            remaining = WebAuthnCredential.objects.filter(user=user, confirmed=True).exclude(
                pk=passkey_id
            )
        else:
            raise InvalidInput("otp_method_unknown", _("No such second factor."))
        if not devices.exists():
            raise NotFound("otp_device_not_found", _("No such second factor."))
        others = remaining.exists() or (
            method == "passkey" and TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        )
        if not others and requires_second_factor(user):
            raise PermissionDenied(
                "otp_required",
                _("Your role needs a second factor: add another one before removing this one."),
            )
        devices.delete()
        if not others:
            StaticDevice.objects.filter(user=user).delete()
        _record(
            SignInEventKind.TWO_FACTOR_DISABLED,
            "user.2fa_disabled",
            user=user,
            request=request,
            method=method,
        )


# --- Verification -----------------------------------------------------------------------


def _digits(code: str) -> str:
    return "".join(str(code or "").split())[:64]


def check_code(*, user: User, code: str, request: HttpRequest) -> Device | None:
    """The device that accepts ``code`` (authenticator, then recovery codes), or None.

    A wrong code is a failed sign-in for the throttle (user_login_failed, counted by axes
    like a wrong password) and on the sign-in record; a used recovery code is gone.
    """
    code = _digits(code)
    device: Device | None = None
    if code:
        with transaction.atomic():
            for model in (TOTPDevice, StaticDevice):
                for candidate in model.objects.filter(
                    user=user, confirmed=True
                ).select_for_update():
                    if candidate.verify_token(code):
                        device = candidate
                        break
                if device is not None:
                    break
    if device is None:
        user_login_failed.send(
            sender=__name__,
            credentials={"username": user.username, "siaga_reason": "otp"},
            request=request,
        )
        return None
    audit.record(
        SignInEventKind.SECOND_FACTOR_PASSED,
        request=request,
        user=user,
        detail={"method": "recovery_code" if isinstance(device, StaticDevice) else "totp"},
    )
    throttle.clear_account(user.username)
    return device


def retry_after(user: User) -> int:
    """Seconds until the user's authenticator accepts a code again: django-otp waits 1, 2, 4…
    seconds after each wrong code (a right code typed sooner is refused too); 0 when now."""
    waits = [0]
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        allowed, data = device.verify_is_allowed()
        if not allowed and data and data.get("locked_until"):
            left = (data["locked_until"] - timezone.now()).total_seconds()
            waits.append(max(1, math.ceil(left)))
    return max(waits)


def verify_session(*, request: HttpRequest, code: str) -> bool:
    """Mark the signed-in session verified if ``code`` is right."""
    user = request.user
    assert isinstance(user, User)
    device = check_code(user=user, code=code, request=request)
    if device is None:
        return False
    otp_login(request, device)
    return True


def demo_totp_secret_hex() -> str:
    """The demo's fixed authenticator secret, as django-otp stores it (hex)."""
    import base64

    return base64.b32decode(settings.DEMO_TOTP_SECRET).hex()

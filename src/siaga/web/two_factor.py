"""The second factor's pages: verification after the password, enrolment and changes.

Thin: they call ``siaga.accounts.two_factor``. The passkey ceremonies are
django-otp-webauthn's views (``/webauthn/``), two of them wrapped so that a new passkey and
a passkey verification reach the ledger and the sign-in record.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import views as webauthn_views
from django_otp_webauthn.models import WebAuthnCredential

from siaga.accounts import audit, throttle, two_factor
from siaga.accounts.auth import actor_of
from siaga.accounts.models import SignInEventKind
from siaga.core.errors import SiagaError
from siaga.web.views import locked_out


def _next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The step after the password: a code from the app, a recovery code, or a passkey."""
    user = actor_of(request)
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    if not two_factor.has_second_factor(user):
        return redirect("two-factor")
    error = ""
    if request.method == "POST":
        if throttle.is_locked(request, user.username):
            logout(request)
            return locked_out(request)
        # django-otp waits 1, 2, 4… seconds after each wrong code and refuses any code sooner
        # (a refused one counts as a failed sign-in too): the user is told how long to wait.
        wait = two_factor.retry_after(user)
        if two_factor.verify_session(request=request, code=request.POST.get("code", "")):
            return redirect(_next(request))
        if getattr(request, "axes_locked_out", False):
            logout(request)
            return locked_out(request)
        if wait:
            error = _(
                "Too many wrong codes in a row: wait %(seconds)s seconds, then type the code "
                "the app shows."
            ) % {"seconds": wait}
        else:
            error = _("That code is not right.")
    context = {
        "error": error,
        "next": _next(request, ""),
        "has_passkey": WebAuthnCredential.objects.filter(user=user, confirmed=True).exists(),
    }
    return render(request, "registration/verify.html", context)


@never_cache
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    context = {
        "required": two_factor.requires_second_factor(user),
        "totp": TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        "passkeys": WebAuthnCredential.objects.filter(user=user, confirmed=True),
        "recovery_left": two_factor.remaining_recovery_codes(user),
        "new_codes": request.session.pop("siaga_recovery_codes", None),
        "next": _next(request, ""),
    }
    return render(request, "accounts/two_factor.html", context)


@never_cache
@login_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    device = two_factor.pending_totp(request)
    error = ""
    if request.method == "POST":
        try:
            codes = two_factor.confirm_totp(request=request, code=request.POST.get("code", ""))
        except SiagaError as exc:
            error = str(exc.message)
        else:
            request.session["siaga_recovery_codes"] = codes
            messages.success(request, _("The authenticator app is set up."))
            target = _next(request, "")
            return redirect(target or "two-factor")
    context = {
        "qr": two_factor.totp_qr_data_uri(device),
        "secret": _base32(device),
        "error": error,
        "next": _next(request, ""),
    }
    return render(request, "accounts/totp_setup.html", context)


def _base32(device: TOTPDevice) -> str:
    import base64

    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    if not two_factor.has_second_factor(user):
        messages.error(request, _("Set up a second factor first."))
    else:
        request.session["siaga_recovery_codes"] = two_factor.regenerate_recovery_codes(
            user=user, request=request
        )
    return redirect("two-factor")


@login_required
@require_POST
def remove(request: HttpRequest, method: str) -> HttpResponse:
    try:
        two_factor.disable(
            user=actor_of(request),
            method=method,
            request=request,
            passkey_id=request.POST.get("passkey", "")[:20] or None,
        )
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The second factor was removed."))
    return redirect("two-factor")


class CompleteRegistration(webauthn_views.CompleteCredentialRegistrationView):
    """django-otp-webauthn's, and then the ledger entry (and recovery codes if none yet)."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            credential = WebAuthnCredential.objects.get(pk=json.loads(response.content)["id"])
            two_factor.passkey_registered(credential=credential, request=self.request)
        return response


class CompleteAuthentication(webauthn_views.CompleteCredentialAuthenticationView):
    """django-otp-webauthn's, and then the sign-in record and the cleared throttle."""

    def complete_auth(self, device: Any) -> Any:
        result = super().complete_auth(device)
        audit.record(
            SignInEventKind.SECOND_FACTOR_PASSED,
            request=self.request,
            user=device.user,
            detail={"method": "passkey"},
        )
        throttle.clear_account(device.user.username)
        return result


webauthn_patterns = (
    [
        path(
            "registration/begin/",
            webauthn_views.BeginCredentialRegistrationView.as_view(),
            name="credential-registration-begin",
        ),
        path(
            "registration/complete/",
            CompleteRegistration.as_view(),
            name="credential-registration-complete",
        ),
        path(
            "authentication/begin/",
            webauthn_views.BeginCredentialAuthenticationView.as_view(),
            name="credential-authentication-begin",
        ),
        path(
            "authentication/complete/",
            CompleteAuthentication.as_view(),
            name="credential-authentication-complete",
        ),
        path(
            "jsi18n/",
            JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
            name="js-i18n-catalog",
        ),
    ],
    "otp_webauthn",
)

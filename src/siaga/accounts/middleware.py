"""Keeps a signed-in session that has not passed its second factor where it belongs.

* The user has a second factor and has not passed it: the verification page only.
* The user must have one (``requires_second_factor``) and has none: enrolment only.

Everything else answers a redirect there (pages) or a JSON 401/403 (``/api/``). Signing out,
static files, the language switch and the health check stay open. Runs after django-otp's
OTPMiddleware, which gives ``request.user.is_verified()``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _

from siaga.accounts.two_factor import has_second_factor, requires_second_factor

OPEN_PREFIXES = ("/logout/", "/i18n/", "/healthz", "/readyz", "/favicon")
VERIFY_PREFIXES = ("/login/verify/", "/webauthn/authentication/", "/webauthn/jsi18n/")
ENROL_PREFIXES = (
    "/account/2fa/",
    "/webauthn/registration/",
    "/webauthn/jsi18n/",
    "/account/password/",
)


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponseBase | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        path = request.path_info
        if path.startswith(OPEN_PREFIXES) or path.startswith(self.static_prefix):
            return None
        if has_second_factor(user):
            if path.startswith(VERIFY_PREFIXES):
                return None
            return self._send(
                request,
                "login-verify",
                401,
                "auth_second_factor_required",
                _("Pass the second factor first."),
            )
        if requires_second_factor(user):
            if path.startswith(ENROL_PREFIXES):
                return None
            return self._send(
                request,
                "two-factor",
                403,
                "auth_second_factor_enrolment_required",
                _("Your role signs in with a second factor: set one up first."),
            )
        return None

    def _send(
        self, request: HttpRequest, where: str, status: int, code: str, message: str
    ) -> HttpResponseBase:
        if request.path_info.startswith("/api/"):
            return JsonResponse({"code": code, "message": message, "detail": None}, status=status)
        url = reverse(where)
        if request.method == "GET" and request.path_info != "/":
            url += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(url)

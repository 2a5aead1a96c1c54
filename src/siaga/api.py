"""The HTTP API under /api/v1/: one NinjaAPI, one error shape, routers from each app.

Every error body is ``{"code": "...", "message": "...", "detail": ...}``; the message is in the
request's language (Bahasa Indonesia unless the client asks for English).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from siaga.core.errors import SiagaError

_STATUS_CODES = {
    400: "bad_request",
    401: "auth_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "throttled",
}


class TokenAuth(HttpBearer):
    """``Authorization: Bearer sg_…`` for devices and scripts."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from siaga.accounts.services import user_for_token

        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class BrowserSession(SessionAuth):
    """The signed-in browser session; CSRF-checked on writes."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


api = NinjaAPI(
    title="SIAGA API",
    version="1",
    description=(
        "Sistem Informasi Pengamanan Gudang dan Logistik Pemilu. Authenticate with a bearer "
        "token from POST /api/v1/auth/token, or with the browser session. Every error has the "
        'shape {"code", "message", "detail"}.'
    ),
    auth=[TokenAuth(), BrowserSession()],
    urls_namespace="api",
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, detail: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "detail": detail}, status=status
    )


@api.exception_handler(SiagaError)
def _siaga_error(request: HttpRequest, exc: SiagaError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, str(exc.message), exc.detail)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors
    ]
    return error_response(request, 422, "validation_error", _("The request is not valid."), detail)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        401,
        "auth_required",
        _("Sign in or send a valid API token (Authorization: Bearer …)."),
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _STATUS_CODES.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc.message))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return error_response(request, 403, "forbidden", _("You may not do this."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, "payload_too_large", _("The request body is too large."))


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown paths under /api/v1/ answer in the API's shape, not with an HTML page."""
    return error_response(request, 404, "route_not_found", _("No such API route."))


def register_routers() -> None:
    from siaga.access import api as access
    from siaga.accounts.api import router as auth_router
    from siaga.alarms.api import router as alarms_router
    from siaga.incidents.api import router as incidents_router
    from siaga.ledger.api import router as ledger_router
    from siaga.logistics.api import router as logistics_router
    from siaga.notify.api import router as notify_router
    from siaga.regions.api import router as regions_router
    from siaga.sites.api import router as sites_router

    api.add_router("/auth", auth_router)
    api.add_router("/regions", regions_router)
    api.add_router("/sites", sites_router)
    api.add_router("/ledger", ledger_router)
    api.add_router("/notify", notify_router)
    api.add_router("/incidents", incidents_router)
    api.add_router("/alarms", alarms_router)
    api.add_router("/visits", access.visits_router)
    api.add_router("/gate", access.gate_router)
    api.add_router("/visitors", access.visitors_router)
    api.add_router("/passes", access.passes_router)
    api.add_router("/custody", logistics_router)
    api.add_router("/sites", access.sites_router)


register_routers()

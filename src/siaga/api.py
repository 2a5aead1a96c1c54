"""The HTTP API under /api/v1/: one NinjaAPI, one error shape, routers from each app.

Every error body is ``{"code": "...", "message": "...", "detail": ...}``; the message is in the
request's language (Bahasa Indonesia unless the client asks for English). Three things hold for
every operation, including those added later, because they live here and not in the apps:

- nothing answers an HTML page or a bare 500: an unexpected exception is logged with its
  traceback and answered ``500 server_error``, a database that cannot be used (disk full,
  read-only, gone) ``503 database_unavailable``;
- the error statuses an operation can answer are declared in the OpenAPI schema with the error
  schema (:func:`standard_error_statuses`), beside those its route names itself;
- every date-time carries its UTC offset (:class:`OffsetJSONEncoder`).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.router import BoundRouter
from ninja.security import HttpBearer, SessionAuth

from siaga.core.errors import SiagaError
from siaga.core.schemas import ErrorOut

logger = logging.getLogger("siaga.api")

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

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_SOURCES = frozenset({"body", "form", "file"})


class OffsetJSONEncoder(NinjaJSONEncoder):
    """Date-times always leave with their offset (``Z`` for UTC, as Django's encoder writes it).
    Django hands out aware values in UTC; a naive one can only have been built in code, and is
    read as the deployment's time zone, as Django reads naive values."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime) and timezone.is_naive(o):
            o = timezone.make_aware(o, timezone.get_default_timezone())
        return super().default(o)


class OffsetJSONRenderer(JSONRenderer):
    encoder_class = OffsetJSONEncoder


def standard_error_statuses(operation: Operation) -> set[int]:
    """The error statuses an operation can answer whatever its handler does.

    400 where it takes a body (one that cannot be parsed); 401 and 403 where it needs a user
    (no or a bad token; a role or CSRF check that fails); 404 and 422 where it takes input (a
    path, query or body that names something outside the caller's scope, or does not fit the
    schema); 409 and 413 on writes (a reused client id or a unique value; a body over the size
    limit); 429 where it is throttled; 500 and 503 on every operation (the last-resort
    handlers below)."""
    statuses = {500, 503}
    if operation.auth_callbacks:
        statuses |= {401, 403}
    if any(model.model_fields for model in operation.models):
        statuses |= {404, 422}
    if any(model.__ninja_param_source__ in _BODY_SOURCES for model in operation.models):
        statuses.add(400)  # a body that cannot be parsed at all
    if _WRITE_METHODS & set(operation.methods):
        statuses |= {409, 413, 422}
    if operation.throttle_objects:
        statuses.add(429)
    return statuses


class SiagaAPI(NinjaAPI):
    """SIAGA's NinjaAPI: the error handlers, the error statuses of every operation, offsets."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("renderer", OffsetJSONRenderer())
        super().__init__(**kwargs)
        self._errors_declared = False
        install_error_handlers(self)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        _local_times_of_day(schema)
        return schema

    def _get_bound_routers(self) -> list[BoundRouter]:
        # Ninja binds the routers once, on the first look at the URLs or the schema; each
        # operation is final from then on, so that is where the standard errors are added.
        bound = super()._get_bound_routers()
        if not self._errors_declared:
            self._errors_declared = True
            for router in bound:
                for path_view in router.path_operations.values():
                    for operation in path_view.operations:
                        declare_error_responses(operation)
        return bound


# A time of day (a site's after-hours window, a pass's daily hours) is the warehouse's wall-clock
# time and has no offset; pydantic names it ``format: time``, which RFC 3339 reads as a time
# *with* an offset. The schema says what is sent: RFC 3339's partial-time.
_PARTIAL_TIME = {
    "type": "string",
    "format": "partial-time",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
    "description": "a local time of day (the site's wall clock), HH:MM[:SS]",
}


def _local_times_of_day(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.update({k: v for k, v in _PARTIAL_TIME.items() if k != "description"})
            node.setdefault("description", _PARTIAL_TIME["description"])
        for value in node.values():
            _local_times_of_day(value)
    elif isinstance(node, list):
        for value in node:
            _local_times_of_day(value)


def declare_error_responses(operation: Operation) -> None:
    models = operation.response_models
    for status in sorted(standard_error_statuses(operation) - set(models)):
        models[status] = operation._create_response_model(ErrorOut)


def install_error_handlers(target: NinjaAPI) -> None:
    """The one error shape for every exception an operation can end with."""

    @target.exception_handler(SiagaError)
    def _siaga_error(request: HttpRequest, exc: SiagaError) -> HttpResponse:
        return _answer(target, request, exc.status, exc.code, str(exc.message), exc.detail)

    @target.exception_handler(ValidationError)
    def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        detail = [
            {
                "loc": list(err.get("loc", ())),
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors
        ]
        return _answer(
            target, request, 422, "validation_error", _("The request is not valid."), detail
        )

    @target.exception_handler(AuthenticationError)
    def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _answer(
            target,
            request,
            401,
            "auth_required",
            _("Sign in or send a valid API token (Authorization: Bearer …)."),
        )

    @target.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return _answer(target, request, exc.status_code, code, str(exc.message))

    @target.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _answer(target, request, 404, "not_found", _("Not found."))

    @target.exception_handler(DjangoPermissionDenied)
    def _forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
        return _answer(target, request, 403, "forbidden", _("You may not do this."))

    @target.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return _answer(
            target, request, 413, "payload_too_large", _("The request body is too large.")
        )

    @target.exception_handler(OperationalError)
    def _database_unavailable(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        # Disk full, a read-only or locked file, a lost connection: nothing was written (the
        # service's transaction rolled back), and the client may try again later.
        logger.error("database unavailable under %s", request.path, exc_info=exc)
        return _database_unavailable_answer(target, request)

    @target.exception_handler(Exception)
    def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        # The last resort: the traceback goes to the log, never into the body; the reference
        # lets an operator find the one in the log that a user reports.
        reference = uuid.uuid4().hex
        logger.error(
            "unhandled exception under %s (reference %s)", request.path, reference, exc_info=exc
        )
        return _server_error_answer(target, request, {"reference": reference})


def _answer(
    target: NinjaAPI, request: HttpRequest, status: int, code: str, message: str, detail: Any = None
) -> HttpResponse:
    return target.create_response(
        request, {"code": code, "message": message, "detail": detail}, status=status
    )


def _database_unavailable_answer(target: NinjaAPI, request: HttpRequest) -> HttpResponse:
    response = _answer(
        target,
        request,
        503,
        "database_unavailable",
        _("The database cannot be used just now; nothing was saved. Try again later."),
    )
    response["Retry-After"] = "30"
    return response


def _server_error_answer(
    target: NinjaAPI, request: HttpRequest, detail: Any = None
) -> HttpResponse:
    return _answer(
        target,
        request,
        500,
        "server_error",
        _("Something went wrong on the server; it has been logged."),
        detail,
    )


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


api = SiagaAPI(
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
    return _answer(api, request, status, code, message, detail)


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown paths under /api/v1/ answer in the API's shape, not with an HTML page."""
    return error_response(request, 404, "route_not_found", _("No such API route."))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``: a fault outside an API operation (in a middleware, say) under
    /api/ still answers the API's shape; every other path keeps Django's own 500 page.
    Django has logged the traceback already (logger ``django.request``)."""
    if not request.path.startswith("/api/"):
        return django_server_error(request)
    if isinstance(sys.exc_info()[1], OperationalError):
        return _database_unavailable_answer(api, request)
    return _server_error_answer(api, request)


def register_routers() -> None:
    from siaga.access import api as access
    from siaga.accounts.api import router as auth_router
    from siaga.alarms.api import router as alarms_router
    from siaga.hazards.api import readings_router
    from siaga.hazards.api import router as hazards_router
    from siaga.incidents.api import router as incidents_router
    from siaga.ledger.api import router as ledger_router
    from siaga.logistics.api import router as logistics_router
    from siaga.notify.api import router as notify_router
    from siaga.regions.api import router as regions_router
    from siaga.safety.api import router as safety_router
    from siaga.sites.api import router as sites_router
    from siaga.weather.api import router as weather_router

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
    api.add_router("/safety", safety_router)
    api.add_router("/weather", weather_router)
    api.add_router("/hazards", hazards_router)
    api.add_router("/readings", readings_router)


register_routers()

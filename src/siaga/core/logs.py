"""Logs an operator can search: with ``SIAGA_LOG_FORMAT=json`` one JSON object per line
(python-json-logger), each carrying the request's id and the user's id, and one line per
request in place of the web server's own access log.

No line holds a NIK: every message goes through :class:`ContextFilter`, which masks any run of
16 digits, and the request line names the URL pattern and the path without its query string.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "siaga_request", default=None
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")

request_logger = logging.getLogger("siaga.request")


def mask_niks(text: str) -> str:
    return _SIXTEEN_DIGITS.sub(r"\1********\2", text)


def _user_id(request: HttpRequest) -> str | None:
    # Only a user already loaded: the filter never makes a query of its own.
    user = getattr(request, "_cached_user", None) or getattr(request, "auth", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    return None


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` to every record and masks NIKs in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        record.request_id = getattr(request, "request_id", None) if request else None
        record.user_id = _user_id(request) if request else None
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it for the formatter to report
            return True
        masked = mask_niks(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class RequestContextMiddleware:
    """First in the chain: gives the request its id (the proxy's ``X-Request-ID`` when it sent
    a sane one), answers it in the same header, and writes the JSON request line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex  # type: ignore[attr-defined]
        token = current_request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
            if settings.LOG_FORMAT == "json":
                match = getattr(request, "resolver_match", None)
                request_logger.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "route": match.view_name if match is not None else None,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            current_request.reset(token)


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """settings.LOGGING for ``plain`` (a developer's terminal) or ``json`` (production)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "siaga.core.logs.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Who failed from where is in the sign-in record (SignInEvent), not the console.
            "axes": {"level": "ERROR"},
            # httpx logs every request's URL at INFO, and a Telegram URL holds the bot token.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }

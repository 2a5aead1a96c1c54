"""Errors a user can cause: a stable machine code, a status and a translatable message.

The message is written in English in the code and translated to Bahasa Indonesia through the
catalogue; whichever language is active when the error is shown is the one the user reads.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class SiagaError(Exception):
    """Base of every error a user can cause. Subclasses set ``status``; callers set ``code``."""

    status: int = 400

    def __init__(
        self,
        code: str,
        message: str | Promise,
        *,
        detail: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.detail = detail
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(SiagaError):
    status = 422


class NotAuthenticated(SiagaError):
    status = 401


class PermissionDenied(SiagaError):
    status = 403


class NotFound(SiagaError):
    status = 404


class Conflict(SiagaError):
    status = 409


class TooManyRequests(SiagaError):
    status = 429

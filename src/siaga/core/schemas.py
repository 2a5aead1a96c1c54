from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    """The one error shape of the API."""

    code: str
    message: str
    detail: object | None = None

"""Schemas shared by every app's API: the one error shape and the one page of a list.

Every list endpoint's query schema derives from :class:`PageQuery`, so ``offset`` and ``limit``
have bounds everywhere: a number the database cannot hold (SQLite and PostgreSQL both stop at
2^63 - 1) is refused as ``422 validation_error`` before a query is built.
"""

from __future__ import annotations

from ninja import Field, Schema

# Far beyond any list a client pages through (the national deployment's largest table holds
# ~10^8 rows), and far below 2^63 even with ``limit`` added to it.
MAX_OFFSET = 1_000_000_000


class ErrorOut(Schema):
    """The one error shape of the API."""

    code: str
    message: str
    detail: object | None = None


class PageQuery(Schema):
    """``limit`` and ``offset`` of a list. A list with another default or ceiling for ``limit``
    redeclares that field only; ``offset`` keeps its bounds."""

    limit: int = Field(50, ge=1, le=500, description="how many items, at most")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="how many items to skip")

"""Identifiers. Rows that clients create carry a UUIDv7 the client may choose itself."""

from __future__ import annotations

import uuid

import uuid_utils


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7) as a standard ``uuid.UUID``."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)

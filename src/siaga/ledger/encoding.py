"""The bytes that are hashed: canonical JSON of one ledger entry.

Canonical means: keys sorted, no insignificant whitespace, UTF-8, no NaN or Infinity. Pure
Python, no Django: the standalone verifier uses it too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring as _encode_string
from typing import Any

ENTRY_FIELDS = (
    "seq",
    "id",
    "time",
    "actor",
    "unit",
    "region",
    "kind",
    "subject_type",
    "subject_id",
    "payload",
)
# Only on an entry with a personal part, so every entry without one keeps its bytes.
OPTIONAL_FIELDS = ("personal_hash",)


class EncodingError(ValueError):
    """A value that has no canonical JSON form."""


# What ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
# allow_nan=False)`` builds on every call, built once: appending pays for it per entry.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise EncodingError(str(exc)) from None
    return text.encode("utf-8")


def format_time(value: datetime) -> str:
    """UTC with microseconds and a Z: one spelling for one instant."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def b64(data: bytes | memoryview) -> str:
    """Hashes and keys as the API, the pages and the notes show them: standard base64."""
    return base64.b64encode(bytes(data)).decode()


def entry_bytes(record: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry record; its leaf hash is SHA-256(0x00 ‖ these)."""
    missing = [f for f in ENTRY_FIELDS if f not in record]
    extra = [f for f in record if f not in ENTRY_FIELDS and f not in OPTIONAL_FIELDS]
    if missing or extra:
        raise EncodingError(f"entry fields wrong: missing {missing}, unexpected {extra}")
    return canonical_json(record)


# The canonical record with its keys in sorted order; ``%s`` slots take JSON-escaped strings.
# The slot after the payload holds ``personal_fragment(...)``: empty for an entry without a
# personal part ("personal_hash" sorts between "payload" and "region").
ENTRY_TEMPLATE = (
    '{"actor":%s,"id":%s,"kind":%s,"payload":%s%s,"region":%s,"seq":%d,"subject_id":%s,'
    '"subject_type":%s,"time":%s,"unit":%s}'
)
json_string = _encode_string


def personal_fragment(personal_hash: str | None) -> str:
    """What the record holds of a personal part: nothing, or its salted hash."""
    return "" if personal_hash is None else ',"personal_hash":' + _encode_string(personal_hash)


def canonical_entry(
    *,
    seq: int,
    id: str,
    time: str,
    actor: str,
    unit: str,
    region: str,
    kind: str,
    subject_type: str,
    subject_id: str,
    payload: str,
    personal_hash: str | None = None,
) -> bytes:
    """``entry_bytes`` for a payload that is already canonical JSON text, without parsing it.

    Strings are escaped exactly as ``json.dumps`` with ``ensure_ascii=False`` escapes them;
    this is the hot path of appending and verifying.
    """
    s = _encode_string
    return (
        ENTRY_TEMPLATE
        % (
            s(actor),
            s(id),
            s(kind),
            payload,
            "" if personal_hash is None else personal_fragment(personal_hash),
            s(region),
            seq,
            s(subject_id),
            s(subject_type),
            s(time),
            s(unit),
        )
    ).encode("utf-8")


def personal_part_hash(salt: bytes, personal: bytes) -> str:
    """What an entry's record commits to of its personal part: SHA-256(salt ‖ canonical JSON
    of the part), in hex. The salt (16 random bytes per entry) keeps a guess of a person's
    facts from being checked against the hash once the part is erased."""
    return hashlib.sha256(bytes(salt) + personal).hexdigest()

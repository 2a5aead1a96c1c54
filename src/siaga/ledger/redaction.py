"""The one list of what never enters a ledger payload, and the admin's safe change records.

An append-only log that holds a secret or a full personal identifier can never be cleaned
without breaking its chain, so ``services.append`` refuses such payloads (a programming error).
The check runs on the payload's canonical JSON text, once, with two regular expressions: it is
on the hot path of every custody event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Keys that never enter a payload, at any depth.
SECRET_FIELDS = frozenset(
    {
        "password",
        "password1",
        "password2",
        "old_password",
        "new_password",
        "new_password1",
        "new_password2",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "secret",
        "secret_key",
        "private_key",
        "otp",
        "totp",
        "otp_code",
        "recovery_code",
        "recovery_codes",
    }
)
PERSONAL_FIELDS = frozenset({"nik", "phone", "phone_number"})
PHOTO_FIELDS = frozenset({"photo"})
FORBIDDEN_FIELDS = SECRET_FIELDS | PERSONAL_FIELDS | PHOTO_FIELDS

# In canonical JSON a quote inside a string is escaped, so ``"name":`` not preceded by a
# backslash is always a key.
_KEY_RE = re.compile(r'(?<!\\)"(' + "|".join(sorted(map(re.escape, FORBIDDEN_FIELDS))) + r')":')
_SECRET_KEY_RE = re.compile(r'(?<!\\)"(' + "|".join(sorted(map(re.escape, SECRET_FIELDS))) + r')":')
# A full 16-digit NIK, an E.164 number or an Indonesian 08… mobile number standing alone.
# A hyphen counts as part of a word: a UUID's last group may be twelve digits that begin with 08.
_VALUE_RE = re.compile(r"(?<![0-9A-Za-z-])(?:\d{16}|\+\d{8,15}|08\d{8,11})(?![0-9A-Za-z-])")


def forbidden_in(payload_text: str) -> str | None:
    """What of the one list a canonical payload holds (the key's name, or a description)."""
    found = _KEY_RE.search(payload_text)
    if found is not None:
        return f"field {found.group(1)!r}"
    if _VALUE_RE.search(payload_text) is not None:
        return "a value that looks like a full NIK or a phone number"
    return None


def secret_in(text: str) -> str | None:
    """What secret a canonical personal part holds (the key's name). A personal part may hold
    a person's facts, being erasable, but a secret belongs in neither."""
    found = _SECRET_KEY_RE.search(text)
    return None if found is None else f"field {found.group(1)!r}"


REDACTED = "[redacted]"


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _scrubbed(key): REDACTED if key in FORBIDDEN_FIELDS else _scrubbed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, str):
        return _VALUE_RE.sub(REDACTED, value)
    if isinstance(value, int) and not isinstance(value, bool) and _VALUE_RE.fullmatch(str(value)):
        return REDACTED
    return value


def scrub(payload_text: str) -> str | None:
    """A legacy payload as the ledger may keep it: the value of every key on the list, and
    every full NIK or phone number, replaced by ``[redacted]``; the keys stay, so a reader sees
    what was there. None when the payload holds nothing to scrub. Pure: the legacy clean-up
    migration calls it too."""
    if forbidden_in(payload_text) is None:
        return None
    from siaga.ledger.encoding import canonical_json

    return canonical_json(_scrubbed(json.loads(payload_text))).decode()


def mask(value: str) -> str:
    """A personal identifier as it may be shown elsewhere: all but the last four hidden."""
    text = str(value)
    return "*" * max(len(text) - 4, 0) + text[-4:] if len(text) > 4 else "*" * len(text)


def _photo_digest(value: Any) -> str:
    if not value:
        return ""
    try:
        value.seek(0)
        data = value.read()
        value.seek(0)
    except (AttributeError, OSError, ValueError):
        return "changed"
    return "sha256:" + hashlib.sha256(data).hexdigest()


def change_record(data: Mapping[str, Any], changed: Iterable[str]) -> dict[str, str]:
    """A form's changed data as a safe change record: secrets only as ``credentials: changed``,
    personal identifiers masked, photos by SHA-256, every other value as text."""
    record: dict[str, str] = {}
    for name in changed:
        value = data.get(name)
        lowered = name.lower()
        if lowered in SECRET_FIELDS or "password" in lowered or "secret" in lowered:
            # Not even the field's name: it is on the list, and one word says enough.
            record["credentials"] = "changed"
        elif lowered in PERSONAL_FIELDS:
            record[f"{name}_masked"] = mask(str(value or ""))
        elif lowered in PHOTO_FIELDS or "photo" in lowered:
            record[f"{name}_sha256"] = _photo_digest(value)
        else:
            text = str(value)
            record[name] = "changed" if _VALUE_RE.search(text) else text
    return record

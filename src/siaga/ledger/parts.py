"""What verify and export know of redactions: personal parts beside the chain, the legacy
payloads scrubbed in place, and the ``ledger.redacted`` entries that vouch for both.

Each entry gets one of three verdicts: untouched, redacted (its personal part erased, or its
legacy payload scrubbed, by a redaction that a ``ledger.redacted`` entry lists), or tampered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection

from siaga.ledger.encoding import format_time, personal_part_hash
from siaga.ledger.models import Entry, PayloadRedaction, PersonalPart

REDACTED_KIND = "ledger.redacted"

LEAF_MISMATCH = "its fields do not match its leaf hash (changed in the database)"
PART_MISMATCH = "its personal part does not match the hash in its record (changed in the database)"
PART_WITHOUT_HASH = "a personal part lies beside it, but its record holds no personal hash"
PART_REMOVED = "its record holds a personal hash, but its personal part was removed unrecorded"
UNRECORDED_REDACTION = "its personal part was erased, but no ledger.redacted entry lists it"
LEGACY_UNSOUND = (
    "its payload no longer gives its leaf hash, and no sound redaction explains it "
    "(changed in the database)"
)


@dataclass
class Verdicts:
    """Per-entry findings of one verify run: seq -> why, for the tampered; seqs redacted."""

    tampered: dict[int, str] = field(default_factory=dict)
    redacted: set[int] = field(default_factory=set)

    def tamper(self, seq: int, why: str) -> None:
        self.tampered.setdefault(seq, why)

    def redacted_seqs(self) -> list[int]:
        return sorted(self.redacted - set(self.tampered))


class RedactionEntry(NamedTuple):
    seqs: frozenset[int]
    records: dict[str, str]


class LegacyRedaction(NamedTuple):
    leaf_hash: bytes
    record_sha256: str
    redaction_seq: int
    redacted_at: Any
    reason: str


def redaction_entries(size: int) -> dict[int, RedactionEntry]:
    """The ``ledger.redacted`` entries below ``size`` (few: one per redaction), by seq."""
    found: dict[int, RedactionEntry] = {}
    rows = Entry.objects.filter(kind=REDACTED_KIND, seq__lt=size).values_list("seq", "payload")
    for seq, payload in rows:
        try:
            value = json.loads(payload)
            seqs = frozenset(int(s) for s in value.get("seqs", []))
            records = {str(k): str(v) for k, v in (value.get("records") or {}).items()}
        except (ValueError, TypeError, AttributeError):
            continue  # not one we wrote: it vouches for nothing (and its leaf says if changed)
        found[seq] = RedactionEntry(seqs, records)
    return found


def vouched(seq: int, by: int | None, redactions: dict[int, RedactionEntry]) -> bool:
    """Whether the ``ledger.redacted`` entry ``by``, later than ``seq``, lists it."""
    entry = redactions.get(by) if by is not None else None
    return entry is not None and by is not None and by > seq and seq in entry.seqs


def legacy_redactions(size: int) -> dict[int, LegacyRedaction]:
    return {
        seq: LegacyRedaction(bytes(leaf), sha, by, at, reason)
        for seq, leaf, sha, by, at, reason in PayloadRedaction.objects.filter(
            entry_id__lt=size
        ).values_list(
            "entry_id",
            "leaf_hash",
            "record_sha256",
            "redaction_seq",
            "redacted_at",
            "redaction_reason",
        )
    }


def legacy_sound(
    seq: int,
    stored_leaf: bytes,
    line: str,
    legacy: LegacyRedaction,
    redactions: dict[int, RedactionEntry],
) -> bool:
    """A scrubbed legacy entry holds up: its stored leaf is the one the redaction kept, its
    record is the one the ``ledger.redacted`` entry committed to, and that entry lists it."""
    sha = hashlib.sha256(line.encode("utf-8")).hexdigest()
    entry = redactions.get(legacy.redaction_seq)
    return (
        stored_leaf == legacy.leaf_hash
        and sha == legacy.record_sha256
        and vouched(seq, legacy.redaction_seq, redactions)
        and entry is not None
        and entry.records.get(str(seq)) == sha
    )


def check_parts(size: int, redactions: dict[int, RedactionEntry], verdicts: Verdicts) -> None:
    """Every personal part against its entry's hash; every entry with a hash has its part."""
    parts = PersonalPart._meta.db_table
    entries = Entry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.seq, p.salt, p.data, p.redacted_at, p.redaction_seq, e.personal_hash "  # noqa: S608 - constant names
            f"FROM {parts} p LEFT JOIN {entries} e ON e.seq = p.seq WHERE p.seq < %s",
            [size],
        )
        for seq, salt, data, redacted_at, by, personal_hash in cursor.fetchall():
            if personal_hash is None:
                verdicts.tamper(seq, PART_WITHOUT_HASH)
            elif redacted_at is None:
                if salt is None or personal_part_hash(salt, data.encode()) != personal_hash:
                    verdicts.tamper(seq, PART_MISMATCH)
            elif vouched(seq, by, redactions):
                verdicts.redacted.add(seq)
            else:
                verdicts.tamper(seq, UNRECORDED_REDACTION)
        # The partial index on entries with a personal hash makes this a short walk.
        cursor.execute(
            f"SELECT e.seq FROM {entries} e WHERE e.personal_hash IS NOT NULL AND e.seq < %s "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {parts} p WHERE p.seq = e.seq)",
            [size],
        )
        for (seq,) in cursor.fetchall():
            verdicts.tamper(seq, PART_REMOVED)


def side_lines(start: int, end: int) -> dict[int, dict[str, Any]]:
    """What an export writes after each entry of seq ``start``..``end - 1`` that has one: its
    personal part (salt and facts), or the marker of its redaction."""
    lines: dict[int, dict[str, Any]] = {}
    parts = PersonalPart.objects.filter(entry_id__gte=start, entry_id__lt=end)
    for part in parts.order_by("entry_id"):
        if part.redacted_at is None:
            lines[part.entry_id] = {
                "personal": {
                    "seq": part.entry_id,
                    "salt": bytes(part.salt or b"").hex(),
                    "data": json.loads(part.data or "null"),
                }
            }
        else:
            lines[part.entry_id] = {
                "redacted": {
                    "seq": part.entry_id,
                    "part": "personal",
                    "at": format_time(part.redacted_at),
                    "reason": part.redaction_reason,
                    "by": part.redaction_seq,
                }
            }
    legacy = PayloadRedaction.objects.filter(entry_id__gte=start, entry_id__lt=end)
    for redaction in legacy.order_by("entry_id"):
        from siaga.ledger.encoding import b64

        lines[redaction.entry_id] = {
            "redacted": {
                "seq": redaction.entry_id,
                "part": "payload",
                "at": format_time(redaction.redacted_at),
                "reason": redaction.redaction_reason,
                "by": redaction.redaction_seq,
                "leaf_hash": b64(redaction.leaf_hash),
            }
        }
    return lines


def any_side_lines() -> bool:
    return PersonalPart.objects.exists() or PayloadRedaction.objects.exists()

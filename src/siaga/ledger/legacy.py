"""Cleaning entries written before the ledger refused secrets and full identifiers.

Such an entry (an admin change record with ``password1``, a gate-log export whose search ``q``
was a NIK, a visitor payload under ``nik``) cannot be rewritten without breaking its leaf. So
its payload column is replaced by a scrubbed copy (``redaction.scrub``), while its original
leaf hash stays where it was — on the entry, in the tree, under every checkpoint — and is kept
again in a ``PayloadRedaction`` row. One ``ledger.redacted`` entry lists the seqs and the
SHA-256 of each scrubbed record, so the scrubbed text is itself committed to. Both verifiers
then report these entries as redacted, never as tampered (docs/ledger.md, "Legacy clean-up").

``clean(models, append_redaction)`` takes the model classes and the way to append the one
entry, so that the migration (with its historical models) and ``siaga ledger clean-legacy``
(with the live ones) share it. It imports no model itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from siaga.ledger import redaction
from siaga.ledger.encoding import canonical_entry, format_time

LEGACY_REASON = "legacy secret/identifier in payload"
REDACTED_KIND = "ledger.redacted"
BATCH = 10_000


class Models(NamedTuple):
    Entry: Any
    PayloadRedaction: Any


# (payload of the ledger.redacted entry) -> (its seq, its recorded time)
AppendRedaction = Callable[[dict[str, Any]], tuple[int, datetime]]


def find(models: Models, size: int) -> dict[int, str]:
    """Seq -> scrubbed payload of every entry below ``size`` whose payload the ledger would now
    refuse and that was not cleaned before. Reads the ledger in batches of seq."""
    done = set(models.PayloadRedaction.objects.values_list("entry_id", flat=True))
    found: dict[int, str] = {}
    for start in range(0, size, BATCH):
        rows = models.Entry.objects.filter(seq__gte=start, seq__lt=start + BATCH).values_list(
            "seq", "payload"
        )
        for seq, payload in rows:
            if seq in done:
                continue
            scrubbed = redaction.scrub(payload)
            if scrubbed is not None:
                found[seq] = scrubbed
    return found


def scrubbed_record_sha256(entry: Any, payload: str) -> str:
    """SHA-256 of the entry's canonical record as it reads once its payload is scrubbed."""
    record = canonical_entry(
        seq=entry.seq,
        id=str(entry.entry_id),
        time=format_time(entry.recorded_at),
        actor=entry.actor,
        unit=entry.unit,
        region=entry.region,
        kind=entry.kind,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        payload=payload,
        personal_hash=getattr(entry, "personal_hash", None),
    )
    return hashlib.sha256(record).hexdigest()


def clean(
    models: Models, size: int, append_redaction: AppendRedaction, actor: str = ""
) -> list[int]:
    """Scrub every legacy entry below ``size`` in the caller's transaction; the seqs cleaned."""
    found = find(models, size)
    if not found:
        return []
    entries = {e.seq: e for e in models.Entry.objects.filter(seq__in=list(found))}
    seqs = sorted(found)
    records = {str(seq): scrubbed_record_sha256(entries[seq], found[seq]) for seq in seqs}
    by, at = append_redaction(
        {"count": len(seqs), "reason": LEGACY_REASON, "seqs": seqs, "records": records}
    )
    for seq in seqs:
        models.Entry.objects.filter(seq=seq).update(payload=found[seq])
    models.PayloadRedaction.objects.bulk_create(
        [
            models.PayloadRedaction(
                entry_id=seq,
                leaf_hash=bytes(entries[seq].leaf_hash),
                record_sha256=records[str(seq)],
                redacted_at=at,
                redaction_reason=LEGACY_REASON,
                redacted_by=actor,
                redaction_seq=by,
            )
            for seq in seqs
        ]
    )
    return seqs

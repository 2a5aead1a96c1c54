"""Appending to the ledger, proving what it holds, signing and witnessing checkpoints."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.core import bulk
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.ids import uuid7
from siaga.ledger import checkpoint_file, keys, merkle, note, redaction, rollback
from siaga.ledger.encoding import (
    EncodingError,
    canonical_entry,
    canonical_json,
    personal_part_hash,
)
from siaga.ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    Head,
    Node,
    PersonalPart,
    WitnessKey,
    format_time,
    node_key,
)

HEAD_ID = 1


class LedgerUsageError(RuntimeError):
    """A programming error: the ledger used in a way that could lose its guarantees."""


@dataclass
class Fact:
    """One fact to append: what happened, to what, by whom, where."""

    kind: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    actor: str = ""
    unit: str = ""
    region: str = ""
    id: uuid.UUID | None = None
    # Personal facts (a name, a masked NIK) kept beside the chain, erasable by ``redact``; the
    # entry's record commits to their salted hash. ``person`` finds one person's parts again
    # (a keyed hash of the NIK, ``siaga.core.crypto.keyed_hash(nik, purpose="person")``).
    personal: dict[str, Any] | None = None
    person: str = ""


SALT_BYTES = 16
PERSON_MAX_LENGTH = PersonalPart._meta.get_field("person").max_length or 128


def subject_of(obj: Model) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def append(
    *,
    kind: str,
    subject: Model | tuple[str, str],
    payload: dict[str, Any] | None = None,
    actor: Any = None,
    unit: Any = None,
    region: str = "",
    id: uuid.UUID | None = None,
    personal: dict[str, Any] | None = None,
    person: str = "",
) -> Entry:
    """Append one entry inside the caller's transaction (and refuse to run outside one).

    The same ``id`` appended twice returns the first entry. ``personal`` is the entry's
    erasable personal part (see ``Fact``); ``person`` the key that finds it for erasure.
    """
    subject_type, subject_id = subject if isinstance(subject, tuple) else subject_of(subject)
    fact = Fact(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload or {},
        actor=getattr(actor, "username", actor or "") or "",
        unit=getattr(unit, "name", unit or "") or "",
        region=region,
        id=id,
        personal=personal,
        person=person,
    )
    return append_many([fact])[0]


def append_many(facts: Sequence[Fact], *, returning: bool = True) -> list[Entry]:
    """Append several entries in order, in the caller's transaction, with one lock.

    Rows go in through ``executemany`` rather than model instances: appending is the hot
    path of every custody event, and it should cost little more than a plain INSERT.
    """
    if not connection.in_atomic_block:
        raise LedgerUsageError(
            "ledger.append must run inside the transaction that makes the change it records"
        )
    ids = [f.id or uuid7() for f in facts]
    # What does not depend on the entries' places is worked out before the lock, which
    # appends from other requests wait on: each payload's canonical JSON, the checks, the ids.
    checked: set[tuple[str, ...]] = set()  # the texts of a batch's facts are mostly alike
    prepared: list[tuple[str, str]] = []
    parts: dict[int, tuple[bytes, str, str, str]] = {}  # fact index: salt, data, hash, person
    for fact, entry_id in zip(facts, ids, strict=True):
        try:
            payload = canonical_json(fact.payload).decode()
        except EncodingError as exc:
            raise InvalidInput(
                "ledger_payload_invalid",
                _("The ledger payload is not valid JSON (no NaN or Infinity)."),
                detail=str(exc),
            ) from None
        _check_text(payload, fact, checked)
        forbidden = redaction.forbidden_in(payload)
        if forbidden is not None:
            raise LedgerUsageError(f"a ledger payload may not hold {forbidden} (kind {fact.kind})")
        prepared.append((payload, str(entry_id)))
        if fact.personal is not None or fact.person:
            parts[len(prepared) - 1] = _personal_part(fact)
    # Lock first: a concurrent append of the same id then finds it here instead of clashing.
    # Plain SQL: this runs once per custody event, and the ORM would cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HEAD, [HEAD_ID])
        (head_size, held) = cursor.fetchone()
    if held:  # the database is behind its kept checkpoint, and no admin has decided yet
        raise rollback.refusal()
    # Ids chosen by a caller may have been appended before; fresh UUIDv7s cannot have been.
    chosen = [f.id for f in facts if f.id is not None]
    existing = {e.entry_id: e for e in Entry.objects.filter(entry_id__in=chosen)} if chosen else {}
    size = head_size
    now = timezone.now()
    time_text = format_time(now)
    db = connections[connection.alias]  # the connection itself, not its per-access proxy
    # As UUIDField stores an id: itself where the database has a uuid type, else its hex.
    native_uuid = db.features.has_native_uuid_field
    recorded_at = Entry._meta.get_field("recorded_at").get_db_prep_value(now, connection)
    cache = _NodeCache()
    cache.values.update(read_nodes(merkle.right_edge(size)))  # all this batch will read
    entry_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, bytes]] = []
    part_rows: list[tuple[Any, ...]] = []
    entries: list[Entry] = []
    for number, (fact, entry_id, (payload, id_text)) in enumerate(
        zip(facts, ids, prepared, strict=True)
    ):
        if entry_id in existing:  # appended before, or earlier in this batch: the first counts
            entries.append(existing[entry_id])
            continue
        part = parts.get(number) if parts else None
        personal_hash = None
        if part is not None:
            personal_hash = part[2]
            part_rows.append((size, part[0], part[1], part[3], "", ""))
        leaf = merkle.leaf_hash(
            canonical_entry(
                seq=size,
                id=id_text,
                time=time_text,
                actor=fact.actor,
                unit=fact.unit,
                region=fact.region,
                kind=fact.kind,
                subject_type=fact.subject_type,
                subject_id=fact.subject_id,
                payload=payload,
                personal_hash=personal_hash,
            )
        )
        for (level, index), value in merkle.perfect_nodes_after_append(size, leaf, cache.read):
            cache.put(level, index, value)
            if level > 0:
                node_rows.append((node_key(level, index), value))
        entry_rows.append(
            (
                size,
                entry_id if native_uuid else entry_id.hex,
                recorded_at,
                fact.actor,
                fact.unit,
                fact.region,
                fact.kind,
                fact.subject_type,
                fact.subject_id,
                payload,
                leaf,
            )
            if not parts
            else (
                size,
                entry_id if native_uuid else entry_id.hex,
                recorded_at,
                fact.actor,
                fact.unit,
                fact.region,
                fact.kind,
                fact.subject_type,
                fact.subject_id,
                payload,
                leaf,
                personal_hash,
            )
        )
        entry = (
            Entry(
                seq=size,
                entry_id=entry_id,
                recorded_at=now,
                actor=fact.actor,
                unit=fact.unit,
                region=fact.region,
                kind=fact.kind,
                subject_type=fact.subject_type,
                subject_id=fact.subject_id,
                payload=payload,
                personal_hash=personal_hash,
                leaf_hash=leaf,
            )
            if returning
            else _APPENDED
        )
        existing[entry_id] = entry
        entries.append(entry)
        size += 1
    if entry_rows:
        with connection.cursor() as cursor:
            # COPY on PostgreSQL (no statement of eleven parameters per row for the driver to
            # build), multi-row INSERTs on SQLite.
            if parts:  # a batch with personal parts: one more column, and the parts
                bulk.insert(
                    cursor,
                    Entry._meta.db_table,
                    (*_ENTRY_COLUMNS, "personal_hash"),
                    entry_rows,
                    types=(*_ENTRY_TYPES, "varchar"),
                )
                bulk.insert(
                    cursor, PersonalPart._meta.db_table, _PART_COLUMNS, part_rows, types=_PART_TYPES
                )
            else:
                bulk.insert(
                    cursor, Entry._meta.db_table, _ENTRY_COLUMNS, entry_rows, types=_ENTRY_TYPES
                )
            insert_nodes(cursor, node_rows)
        with connection.cursor() as cursor:
            cursor.execute(_SET_HEAD, [size, HEAD_ID])
        every = settings.LEDGER_CHECKPOINT_EVERY
        if head_size // every != size // every:
            transaction.on_commit(_enqueue_checkpoint)
    return entries if returning else []


_HEAD_SELECT = f"SELECT size, held FROM {Head._meta.db_table} WHERE id = %s"  # noqa: S608
_LOCK_HEAD = _HEAD_SELECT + (" FOR UPDATE" if connection.features.has_select_for_update else "")
_SET_HEAD = f"UPDATE {Head._meta.db_table} SET size = %s WHERE id = %s"  # noqa: S608

# Stands in for the rows of a batch appended with ``returning=False``.
_APPENDED = Entry()
_INSERT_ENTRY = (
    f"INSERT INTO {Entry._meta.db_table} (seq, entry_id, recorded_at, actor, unit, region, kind, "  # noqa: S608 - constant names
    "subject_type, subject_id, payload, leaf_hash) VALUES "
)
_ENTRY_COLUMNS = (
    "seq",
    "entry_id",
    "recorded_at",
    "actor",
    "unit",
    "region",
    "kind",
    "subject_type",
    "subject_id",
    "payload",
    "leaf_hash",
)
# The columns' PostgreSQL types, for COPY's binary form.
_ENTRY_TYPES = (
    "int8",
    "uuid",
    "timestamptz",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "text",
    "bytea",
)
_PART_COLUMNS = ("seq", "salt", "data", "person", "redaction_reason", "redacted_by")
_PART_TYPES = ("int8", "bytea", "text", "varchar", "varchar", "varchar")


def _personal_part(fact: Fact) -> tuple[bytes, str, str, str]:
    """(salt, canonical personal JSON, its salted hash, person key) of a fact's part."""
    try:
        data = canonical_json(fact.personal or {}).decode()
    except EncodingError as exc:
        raise InvalidInput(
            "ledger_payload_invalid",
            _("The ledger payload is not valid JSON (no NaN or Infinity)."),
            detail=str(exc),
        ) from None
    secret = redaction.secret_in(data)
    if secret is not None:
        raise LedgerUsageError(f"a personal part may not hold {secret} (kind {fact.kind})")
    if ("\\u0000" in data and _contains_nul(fact.personal)) or "\x00" in fact.person:
        raise InvalidInput(
            "ledger_text_invalid",
            _("Ledger text cannot contain the NUL character (U+0000)."),
        )
    if len(fact.person) > PERSON_MAX_LENGTH:
        raise InvalidInput(
            "ledger_text_invalid",
            _("A ledger field is longer than it may be."),
            detail={"field": "person", "max_length": PERSON_MAX_LENGTH},
        )
    salt = os.urandom(SALT_BYTES)
    return salt, data, personal_part_hash(salt, data.encode("utf-8")), fact.person


_INSERT_NODE = f"INSERT INTO {Node._meta.db_table} (key, hash) VALUES "  # noqa: S608
ROWS_PER_STATEMENT = 500


def insert_rows(cursor: Any, prefix: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """One multi-row INSERT per 500 rows: PostgreSQL pays per statement, not per row."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        placeholders = "(" + ", ".join(["%s"] * len(chunk[0])) + ")"
        cursor.execute(
            prefix + ", ".join([placeholders] * len(chunk)),
            [value for row in chunk for value in row],
        )


def insert_nodes(cursor: Any, rows: Sequence[tuple[int, bytes]]) -> None:
    """Subtree hashes, the ledger's own extra rows. PostgreSQL takes them as two arrays in
    one short statement: its driver then has two parameters to bind, not two per row."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        cursor.execute(
            f"INSERT INTO {Node._meta.db_table} (key, hash) "  # noqa: S608 - constant name
            "SELECT * FROM unnest(%s::bigint[], %s::bytea[])",
            [
                bulk.array([key for key, _value in rows], "bigint"),
                bulk.array([value for _key, value in rows], "bytea"),
            ],
        )
    else:
        insert_rows(cursor, _INSERT_NODE, rows)


_LIMITS: dict[str, int] = {
    name: getattr(Entry._meta.get_field(name), "max_length", 0) or 0
    for name in ("actor", "unit", "region", "kind", "subject_type", "subject_id")
}


def _check_text(payload: str, fact: Fact, checked: set[tuple[str, ...]] | None = None) -> None:
    """U+0000 cannot be stored in PostgreSQL text, and PostgreSQL enforces column lengths that
    SQLite does not: refuse both on every database alike. ``checked`` holds the texts found
    good already in this batch, so that a batch's shared actor, unit, region and kind are
    looked at once."""
    shared = (fact.actor, fact.unit, fact.region, fact.kind, fact.subject_type)
    names: Iterable[tuple[str, int]]
    texts: tuple[str, ...]
    if checked is not None and shared in checked:
        names, texts = (("subject_id", _LIMITS["subject_id"]),), (fact.subject_id,)
    else:
        names, texts = _LIMITS.items(), (*shared, fact.subject_id)
    for name, limit in names:
        if len(getattr(fact, name)) > limit:
            raise InvalidInput(
                "ledger_text_invalid",
                _("A ledger field is longer than it may be."),
                detail={"field": name, "max_length": limit},
            )
    # Canonical JSON spells a NUL as \u0000: only then look through the payload itself.
    if any("\x00" in text for text in texts) or (
        "\\u0000" in payload and _contains_nul(fact.payload)
    ):
        raise InvalidInput(
            "ledger_text_invalid",
            _("Ledger text cannot contain the NUL character (U+0000)."),
        )
    if checked is not None:
        checked.add(shared)


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v) for v in value)
    return False


def _enqueue_checkpoint() -> None:
    from siaga.ledger.tasks import make_checkpoint_task

    make_checkpoint_task.enqueue()


class _NodeCache:
    """Perfect-subtree hashes read during one append, from memory or (once) from storage."""

    def __init__(self) -> None:
        self.values: dict[tuple[int, int], bytes] = {}

    def put(self, level: int, index: int, value: bytes) -> None:
        self.values[(level, index)] = value

    def read(self, key: tuple[int, int]) -> bytes:
        if key not in self.values:
            self.values.update(read_nodes({key}))
        return self.values[key]


def read_nodes(wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored hashes of perfect subtrees in one query per table."""
    wanted = set(wanted)
    leaves = [index for level, index in wanted if level == 0]
    inner = {node_key(level, index): (level, index) for level, index in wanted if level > 0}
    found: dict[tuple[int, int], bytes] = {}
    # Plain SQL, skipped when nothing is wanted: every append reads here.
    with connection.cursor() as cursor:
        if leaves:
            marks = ", ".join(["%s"] * len(leaves))
            cursor.execute(
                f"SELECT seq, leaf_hash FROM {Entry._meta.db_table} WHERE seq IN ({marks})",  # noqa: S608
                leaves,
            )
            for seq, leaf in cursor.fetchall():
                found[(0, seq)] = bytes(leaf)
        if inner:
            marks = ", ".join(["%s"] * len(inner))
            cursor.execute(
                f"SELECT key, hash FROM {Node._meta.db_table} WHERE key IN ({marks})",  # noqa: S608
                list(inner),
            )
            for key, value in cursor.fetchall():
                found[inner[key]] = bytes(value)
    missing = wanted - set(found)
    if missing:  # a leaf lost in an accepted rollback is kept (from its frontier) as a node
        found.update(rollback.lost_nodes(missing))
        missing = wanted - set(found)
    if missing:
        raise LedgerUsageError(f"stored tree is missing nodes {sorted(missing)[:5]}")
    return found


def entry_bytes_fast(entry: Entry) -> bytes:
    """Canonical bytes of a stored entry (equal to ``encoding.entry_bytes(entry.record())``)."""
    return canonical_entry(
        seq=entry.seq,
        id=str(entry.entry_id),
        time=format_time(entry.recorded_at),
        actor=entry.actor,
        unit=entry.unit,
        region=entry.region,
        kind=entry.kind,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        payload=entry.payload,
        personal_hash=entry.personal_hash,
    )


# --- redacting personal parts ----------------------------------------------------------

REDACTED_KIND = "ledger.redacted"
REASON_MAX_LENGTH = PersonalPart._meta.get_field("redaction_reason").max_length or 300


def redact(
    *,
    seqs: Iterable[int] | None = None,
    person: str = "",
    reason: str,
    actor: Any,
) -> int:
    """Erase the personal parts of the entries ``seqs`` and/or of ``person`` (both given: the
    parts that match both), and append one ``ledger.redacted`` entry that lists them. The
    entries and their leaves stay as they are; verify then reports them as redacted.

    Returns how many parts were erased; parts already erased are left alone, and when none is
    left to erase nothing is appended (redacting twice is harmless).
    """
    if seqs is None and not person:
        raise LedgerUsageError("redact needs the entries (seqs) or the person to redact")
    reason = (reason or "").strip()
    _check_reason(reason)
    username = getattr(actor, "username", actor or "") or ""
    with transaction.atomic():
        parts = PersonalPart.objects.select_for_update().filter(redacted_at__isnull=True)
        if seqs is not None:
            wanted = sorted({int(seq) for seq in seqs})
            if not wanted:
                return 0
            parts = parts.filter(entry_id__in=wanted)
        if person:
            parts = parts.filter(person=person)
        found = sorted(parts.values_list("entry_id", flat=True))
        if not found:
            return 0
        regions = Entry.objects.filter(seq__in=found).values_list("region", flat=True).distinct()
        entry = append(
            kind=REDACTED_KIND,
            subject=("ledger.personalpart", "redacted"),
            payload={"count": len(found), "reason": reason, "seqs": found},
            actor=username,
            region=common_region(regions),
        )
        PersonalPart.objects.filter(entry_id__in=found).update(
            salt=None,
            data="",
            person="",
            redacted_at=entry.recorded_at,
            redaction_reason=reason,
            redacted_by=username,
            redaction_seq=entry.seq,
        )
    return len(found)


def clean_legacy(*, actor: Any = "") -> list[int]:
    """Scrub the entries that versions before the redaction list wrote with a secret or a full
    identifier in their payload, with one ``ledger.redacted`` entry (``siaga ledger
    clean-legacy``; the migration ``0005`` did it once at upgrade). The seqs cleaned."""
    from siaga.ledger import legacy
    from siaga.ledger.models import PayloadRedaction

    username = getattr(actor, "username", actor or "") or ""

    def append_redaction(payload: dict[str, Any]) -> tuple[int, datetime]:
        regions = Entry.objects.filter(seq__in=payload["seqs"]).values_list("region", flat=True)
        entry = append(
            kind=REDACTED_KIND,
            subject=("ledger.entry", "legacy"),
            payload=payload,
            actor=username,
            region=common_region(regions.distinct()),
        )
        return entry.seq, entry.recorded_at

    with transaction.atomic():
        with connection.cursor() as cursor:  # one clean-up at a time, and no append between
            cursor.execute(_LOCK_HEAD, [HEAD_ID])
            (size, _held) = cursor.fetchone()
        return legacy.clean(
            legacy.Models(Entry, PayloadRedaction), size, append_redaction, username
        )


def _check_reason(reason: str) -> None:
    if not reason:
        raise InvalidInput("redaction_reason_required", _("Say why the data is redacted."))
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            "redaction_reason_invalid",
            _("The reason for a redaction is longer than it may be."),
            detail={"max_length": REASON_MAX_LENGTH},
        )
    if "\x00" in reason or redaction.forbidden_in(canonical_json(reason).decode()) is not None:
        raise InvalidInput(
            "redaction_reason_invalid",
            _("The reason for a redaction may not hold a NIK, a phone number or odd characters."),
        )


def common_region(regions: Iterable[str]) -> str:
    """The smallest region that holds all of ``regions`` (codes such as 16.08.01), so that
    whoever saw the redacted entries also sees their redaction; "" when they share none."""
    common: list[str] | None = None
    for region in regions:
        parts = region.split(".") if region else []
        if common is None:
            common = parts
        else:
            length = 0
            while length < min(len(common), len(parts)) and common[length] == parts[length]:
                length += 1
            common = common[:length]
    return ".".join(common or [])


# --- reading and proving -----------------------------------------------------------------


def tree_size() -> int:
    return Head.objects.values_list("size", flat=True).get(pk=HEAD_ID)


def root_hash(size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    values = read_nodes(merkle.subtree_keys(0, size))
    return merkle.range_hash(0, size, values.__getitem__)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    _check_size(size)
    if not 0 <= index < size:
        raise InvalidInput(
            "proof_index_out_of_range",
            _("The entry index must be below the tree size."),
            detail={"index": index, "tree_size": size},
        )
    values = read_nodes(merkle.inclusion_proof_keys(index, size))
    return merkle.inclusion_proof(index, size, values.__getitem__)


def consistency_proof(first: int, second: int) -> list[bytes]:
    if first > (size := tree_size()):  # what a witness holding a lost checkpoint asks
        raise Conflict(
            "ledger_smaller_than_checkpoint",
            _("The ledger is smaller than the checkpoint you hold (%(size)s < %(first)s).")
            % {"size": size, "first": first},
            detail={"tree_size": size, "first": first},
        )
    _check_size(second)
    if not 0 <= first <= second:
        raise InvalidInput(
            "proof_sizes_invalid",
            _("The first tree size must not exceed the second."),
            detail={"first": first, "second": second},
        )
    values = read_nodes(merkle.consistency_proof_keys(first, second))
    return merkle.consistency_proof(first, second, values.__getitem__)


def _check_size(size: int) -> None:
    if not 0 < size <= tree_size():
        raise InvalidInput(
            "tree_size_invalid",
            _("The tree size must be between 1 and the ledger's current size."),
            detail={"tree_size": size},
        )


# --- checkpoints and witnesses -----------------------------------------------------------


def make_checkpoint() -> Checkpoint | None:
    """Sign the current tree head; returns the existing one when nothing was appended since.
    Refuses (``LedgerRolledBack``) while the database is behind the kept checkpoint, which is
    written anew, outside the database, once this commits."""
    rollback.refuse_if_rolled_back()
    with transaction.atomic():
        size = tree_size()
        if size == 0:
            return None
        transaction.on_commit(partial(checkpoint_file.record, size), robust=True)
        latest = Checkpoint.objects.filter(size=size).first()
        if latest is not None:
            return latest
        now = timezone.now()
        head = note.Checkpoint(
            origin=keys.origin(), size=size, root=root_hash(size), time=int(now.timestamp())
        )
        text = note.sign(head, keys.origin(), keys.signing_key())
        checkpoint, _created = Checkpoint.objects.get_or_create(
            size=size, defaults={"root_hash": head.root, "signed_at": now, "note": text}
        )
        return checkpoint


def checkpoint_if_due(every: timedelta) -> Checkpoint | None:
    """Sign a checkpoint when entries were appended and the last one is older than ``every``."""
    latest = Checkpoint.objects.order_by("-size").first()
    if latest is not None and (
        latest.size == tree_size() or timezone.now() - latest.signed_at < every
    ):
        return None
    return make_checkpoint()


def register_witness_key(*, actor: Any, vkey: str) -> WitnessKey:
    """A Bawaslu supervisor registers the public half of the key they witness with."""
    from siaga.accounts.permissions import Action
    from siaga.accounts.scoping import scope_roots

    roots = scope_roots(actor, Action.FILE_FINDING)
    if roots is not None and not roots:
        raise PermissionDenied("forbidden", _("Only Bawaslu supervisors witness the ledger."))
    try:
        name, kind, public_key = note.parse_verifier_key(vkey)
    except note.NoteError as exc:
        raise InvalidInput(
            "witness_key_invalid", _("This is not a valid witness key."), detail=str(exc)
        ) from None
    if kind != note.COSIGNATURE_V1:
        raise InvalidInput(
            "witness_key_invalid",
            _("A witness key must be a cosignature/v1 (type 0x04) Ed25519 key."),
        )
    with transaction.atomic():
        existing = WitnessKey.objects.filter(name=name).first()
        if existing is not None:
            if existing.user_id == actor.pk and bytes(existing.public_key) == public_key:
                return existing
            raise Conflict("witness_key_name_taken", _("A witness key with this name exists."))
        return WitnessKey.objects.create(user=actor, name=name, public_key=public_key)


def add_cosignature(*, actor: Any, size: int, signature_line: str) -> Cosignature:
    """Store a witness's co-signature, after checking it and the witness's consistency."""
    checkpoint = Checkpoint.objects.filter(size=size).first()
    if checkpoint is None:
        raise NotFound("checkpoint_not_found", _("No checkpoint has this tree size."))
    parsed, _sigs = note.parse(checkpoint.note)
    try:
        _cp, signatures = note.parse(parsed.body() + "\n" + signature_line.strip() + "\n")
        signature = signatures[0]
    except (note.NoteError, IndexError):
        raise InvalidInput(
            "cosignature_invalid", _("The co-signature line is malformed.")
        ) from None
    witness = WitnessKey.objects.filter(name=signature.name, user=actor).first()
    if witness is None:
        raise PermissionDenied("witness_key_unknown", _("You have no witness key with this name."))
    try:
        timestamp = note.verify_cosignature(
            parsed, signature, witness.name, bytes(witness.public_key)
        )
    except note.NoteError as exc:
        raise InvalidInput(
            "cosignature_invalid", _("The co-signature does not verify."), detail=str(exc)
        ) from None
    with transaction.atomic():
        last = (
            Cosignature.objects.select_related("checkpoint")
            .filter(witness=witness)
            .order_by("-checkpoint__size")
            .first()
        )
        if last is not None:  # across an accepted rollback: from its checkpoint on
            last = rollback.checkpoint_after(last, size)
        if last is not None:
            if last.checkpoint.size > size:
                raise Conflict(
                    "cosignature_older_than_last",
                    _("This witness already co-signed a larger checkpoint."),
                    detail={"last": last.checkpoint.size},
                )
            try:
                merkle.verify_consistency(
                    last.checkpoint.size,
                    size,
                    bytes(last.checkpoint.root_hash),
                    bytes(checkpoint.root_hash),
                    consistency_proof(last.checkpoint.size, size),
                )
            except merkle.ProofError as exc:
                raise Conflict(
                    "ledger_inconsistent",
                    _("This checkpoint does not extend the one this witness signed before."),
                    detail=str(exc),
                ) from None
        cosignature, _created = Cosignature.objects.get_or_create(
            checkpoint=checkpoint,
            witness=witness,
            defaults={
                "signature_line": signature.line(),
                "cosigned_at": datetime.fromtimestamp(timestamp, tz=UTC),
            },
        )
        transaction.on_commit(partial(checkpoint_file.record, size), robust=True)
    return cosignature

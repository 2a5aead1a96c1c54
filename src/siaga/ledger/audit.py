"""Export the ledger, and verify the stored ledger end to end (``siaga ledger verify``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from django.db import connection

from siaga.ledger import keys, merkle, note, services
from siaga.ledger.models import LEVEL_SHIFT, Checkpoint, Cosignature, Entry, Node, format_time
from siaga.ledger.verify import EXPORT_FORMAT

CHUNK = 10_000
_COLUMNS = (
    "seq, entry_id, recorded_at, actor, unit, region, kind, subject_type, subject_id, payload, "
    "leaf_hash"
)


class Broken(Exception):
    """The stored ledger does not hold up; ``seq`` is the first entry concerned, if known."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass
class Verified:
    entries: int
    checkpoints: int
    cosignatures: int


def _rows() -> Iterator[tuple[Any, ...]]:
    """Entries in order through a raw cursor: the ORM would cost more than the hashing."""
    table = Entry._meta.db_table
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {table} WHERE seq > %s ORDER BY seq LIMIT {CHUNK}",  # noqa: S608 - constant names
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            yield from rows
            last = int(rows[-1][0])


def _time(value: object) -> str:
    if isinstance(value, datetime):
        # SQLite's converter gives a naive datetime that is already UTC.
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    # Without a converter SQLite hands back its text: "2026-11-28 14:30:00.123456" (UTC).
    text = str(value)
    fraction = text[20:26] if len(text) > 19 else ""
    return f"{text[:10]}T{text[11:19]}.{fraction:0<6}Z"


def _uuid(value: object) -> str:
    text = str(value)
    if len(text) == 32:  # SQLite keeps UUIDs as 32 hex digits
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def _s(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def canonical_row(row: tuple[Any, ...]) -> bytes:
    seq, entry_id, recorded_at, actor, unit, region, kind, subject_type, subject_id, payload = row[
        :10
    ]
    return (
        f'{{"actor":{_s(actor)},"id":"{_uuid(entry_id)}","kind":{_s(kind)},"payload":{payload},'
        f'"region":{_s(region)},"seq":{seq},"subject_id":{_s(subject_id)},'
        f'"subject_type":{_s(subject_type)},"time":"{_time(recorded_at)}","unit":{_s(unit)}}}'
    ).encode()


def verify_database() -> Verified:
    """Recompute every leaf and stored subtree, check every checkpoint and co-signature."""
    stored_nodes = {
        int(key): bytes(value) for key, value in Node.objects.values_list("key", "hash")
    }
    sha256 = hashlib.sha256
    expected = 0
    merkle_tree = _Growing()
    for row in _rows():
        seq = int(row[0])
        if seq != expected:
            raise Broken(f"seq {expected} is missing: the entry was removed", expected)
        leaf = sha256(b"\x00" + canonical_row(row)).digest()
        if leaf != bytes(row[10]):
            raise Broken(
                f"seq {seq}: its fields do not match its leaf hash (changed in the database)",
                seq,
            )
        for level, index, value in merkle_tree.add(leaf):
            if stored_nodes.get((level << LEVEL_SHIFT) | index) != value:
                first = index << level
                raise Broken(
                    f"stored subtree over seq {first}..{first + (1 << level) - 1} differs from "
                    "the entries (a leaf hash or subtree was rewritten)",
                    first,
                )
        expected += 1
    size = services.tree_size()
    if size != expected:
        raise Broken(f"the head says {size} entries, the table holds {expected}", expected)
    name, public_key = keys.origin(), keys.public_key()
    checkpoints = 0
    roots = merkle_tree.roots
    for checkpoint in Checkpoint.objects.order_by("size"):
        try:
            signed = note.verify(checkpoint.note, name, public_key)
        except note.NoteError as exc:
            raise Broken(f"checkpoint at size {checkpoint.size}: {exc}") from None
        if signed.size != checkpoint.size or signed.root != bytes(checkpoint.root_hash):
            raise Broken(f"checkpoint at size {checkpoint.size}: row and signed note differ")
        if checkpoint.size > expected or roots.get(checkpoint.size) != signed.root:
            raise Broken(
                f"checkpoint at size {checkpoint.size}: the entries no longer give its root "
                "(altered, removed, or the tail forked)"
            )
        checkpoints += 1
    cosignatures = 0
    for cosignature in Cosignature.objects.select_related("checkpoint", "witness"):
        parsed, _sigs = note.parse(cosignature.checkpoint.note)
        try:
            _cp, (signature,) = note.parse(parsed.body() + "\n" + cosignature.signature_line + "\n")
            note.verify_cosignature(
                parsed, signature, cosignature.witness.name, bytes(cosignature.witness.public_key)
            )
        except (note.NoteError, ValueError) as exc:
            raise Broken(
                f"co-signature on checkpoint {cosignature.checkpoint.size}: {exc}"
            ) from None
        cosignatures += 1
    return Verified(expected, checkpoints, cosignatures)


class _Growing:
    """Builds the tree leaf by leaf; reports each completed perfect subtree of level ≥ 1 and
    remembers the root at every checkpointed size it is asked about."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, int, bytes]] = []  # (level, index, hash)
        self.size = 0
        self.wanted = set(Checkpoint.objects.values_list("size", flat=True))
        self.roots: dict[int, bytes] = {}

    def add(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        completed = []
        level, index, value = 0, self.size, leaf
        while self.stack and self.stack[-1][0] == level:
            _l, _i, left = self.stack.pop()
            level, index, value = level + 1, index >> 1, merkle.node_hash(left, value)
            completed.append((level, index, value))
        self.stack.append((level, index, value))
        self.size += 1
        if self.size in self.wanted:
            root = self.stack[-1][2]
            for _l, _i, left in reversed(self.stack[:-1]):
                root = merkle.node_hash(left, root)
            self.roots[self.size] = root
        return completed


def export(out: IO[str]) -> int:
    """Write the ledger as JSON lines: a header, then entries with checkpoints and
    co-signatures placed right after the entry that completes their tree."""
    size = services.tree_size()
    out.write(
        json.dumps(
            {
                "format": EXPORT_FORMAT,
                "origin": keys.origin(),
                "key": keys.instance_verifier_key(),
                "size": size,
            }
        )
        + "\n"
    )
    checkpoints = list(Checkpoint.objects.filter(size__lte=size).order_by("size"))
    cosignatures: dict[int, list[Cosignature]] = {}
    for cosignature in Cosignature.objects.select_related("checkpoint", "witness"):
        cosignatures.setdefault(cosignature.checkpoint.size, []).append(cosignature)
    position = 0
    written = 0
    for row in _rows():
        if int(row[0]) >= size:
            break
        out.write(canonical_row(row).decode("utf-8") + "\n")
        written += 1
        while position < len(checkpoints) and checkpoints[position].size == written:
            checkpoint = checkpoints[position]
            out.write(json.dumps({"checkpoint": checkpoint.note}) + "\n")
            for cosignature in cosignatures.get(checkpoint.size, []):
                witness = cosignature.witness
                out.write(
                    json.dumps(
                        {
                            "cosignature": cosignature.signature_line,
                            "size": checkpoint.size,
                            "witness": note.verifier_key(
                                witness.name, bytes(witness.public_key), note.COSIGNATURE_V1
                            ),
                        }
                    )
                    + "\n"
                )
            position += 1
    return written

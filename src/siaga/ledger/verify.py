"""Standalone verifier for a SIAGA ledger export. Imports no Django: an auditor runs it on
their own laptop with only Python and the ``cryptography`` package::

    python -m siaga.ledger.verify EXPORT --key VERIFIER_KEY [--checkpoint FILE]

EXPORT is what ``siaga ledger export`` wrote (JSON lines). VERIFIER_KEY is the instance's
public key as published (``name+keyid+base64``), or ``@file`` holding it; get it from a source
other than the export itself. ``--checkpoint`` is a signed checkpoint you kept earlier (for
instance the one you co-signed yesterday): the export must contain the same tree at that size,
which proves that nothing before it was altered, removed or forked since.

Every entry gets one of three verdicts: *untouched*; *redacted* — its personal part was
erased, or its legacy payload scrubbed, and a ``ledger.redacted`` entry in the same export lists
it; or *tampered*. Exports of format 1 (before personal parts) read as format 2 without them.

Entries lost when the database was put back to an older copy, and an admin accepted it, are a
``lost`` line (start, end and the frontier: the roots of the perfect subtrees of the tree of
``end``) followed by the signed checkpoint at ``end``, which the frontier must give, and by the
admin's ``ledger.rollback_accepted`` entry naming the same range: the tree goes on from the
witnessed checkpoint, so every later checkpoint is consistent with it.

Exit 0 when everything checks out (redacted entries included), 1 with the first problem found
(the entries found tampered are named), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from siaga.ledger import merkle, note
from siaga.ledger.encoding import (
    ENTRY_FIELDS,
    OPTIONAL_FIELDS,
    EncodingError,
    canonical_json,
    personal_part_hash,
)

EXPORT_FORMAT = "siaga-ledger-export/2"
# Version 1 had no personal parts and no redactions; it reads as version 2 without them.
READABLE_FORMATS = ("siaga-ledger-export/1", EXPORT_FORMAT)
REDACTED_KIND = "ledger.redacted"
ROLLBACK_KIND = "ledger.rollback_accepted"


class Tampered(Exception):
    """The export does not hold up; the message says where and what. ``report``, where the
    whole file could be read, holds the verdicts of every entry."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    last_checkpoint: int = 0
    # Entries whose personal part was erased, or whose legacy payload was scrubbed, by a
    # redaction that a ledger.redacted entry lists: not tampered.
    redacted: list[int] = field(default_factory=list)
    # seq -> what is wrong with it
    tampered: dict[int, str] = field(default_factory=dict)
    # (start, end) of each range lost in an accepted rollback
    lost: list[tuple[int, int]] = field(default_factory=list)

    @property
    def untouched(self) -> int:
        lost = sum(end - start for start, end in self.lost)
        return self.entries - lost - len(self.redacted) - len(self.tampered)

    def verdicts(self) -> str:
        text = f"{self.untouched} untouched, {len(self.redacted)} redacted"
        if self.redacted:
            text += f" (seq {_seq_list(self.redacted)})"
        text += f", {len(self.tampered)} tampered"
        for start, end in self.lost:
            text += (
                f", {end - start} lost (seq {start}..{end - 1}, a rollback accepted at seq {end})"
            )
        return text

    def summary(self) -> str:
        uncovered = self.entries - self.last_checkpoint
        text = (
            f"OK: {self.entries} entries, {self.checkpoints} signed checkpoints, "
            f"{self.cosignatures} witness co-signatures verified; {self.verdicts()}"
        )
        if uncovered:
            text += f"; the last {uncovered} entries are not yet under a signed checkpoint"
        return text


def _seq_list(seqs: list[int], most: int = 20) -> str:
    shown = ", ".join(str(s) for s in seqs[:most])
    return shown + (f" and {len(seqs) - most} more" if len(seqs) > most else "")


class _Tree:
    """Root of a growing tree, one leaf at a time (the stack of perfect subtrees)."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        size, value = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            left_size, left = self.stack.pop()
            size, value = left_size + size, merkle.node_hash(left, value)
        self.stack.append((size, value))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        value = self.stack[-1][1]
        for _size, left in reversed(self.stack[:-1]):
            value = merkle.node_hash(left, value)
        return value


@dataclass
class _Pending:
    """An entry read but not yet added to the tree: the line after it may carry its part."""

    seq: int
    record: dict[str, object]
    canonical: bytes
    side: dict[str, object] | None = None


@dataclass
class _State:
    report: Report
    tree: _Tree = field(default_factory=_Tree)
    pending: _Pending | None = None
    # ledger.redacted entries: seq -> (seqs it lists, SHA-256 of scrubbed records by seq)
    redactions: dict[int, tuple[frozenset[int], dict[str, str]]] = field(default_factory=dict)
    # redacted entries waiting for the ledger.redacted entry that must list them:
    # seq -> (by, SHA-256 of the scrubbed record or None for a personal part)
    awaiting: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    # a lost range just jumped over: (start, end, frontier in hex) until its checkpoint and
    # its decision entry are read
    lost: tuple[int, int, list[str]] | None = None
    lost_checkpoint: bool = False


def verify_export(
    lines: Iterable[bytes | str], vkey: str, kept_checkpoint: str | None = None
) -> Report:
    """Check every entry, every checkpoint signature and every co-signature in an export, and
    tell each entry untouched, redacted or tampered. Raises ``Tampered`` at the first break of
    the tree or a signature, or, having read it all, when any entry is tampered."""
    name, _kind, public_key = note.parse_verifier_key(vkey)
    kept = note.verify(kept_checkpoint, name, public_key) if kept_checkpoint else None
    report = Report()
    state = _State(report)
    verified_upto = 0  # entries before this index are under a verified checkpoint
    checkpoints: dict[int, note.Checkpoint] = {}
    iterator = iter(lines)
    header = _json(next(iterator, b""), "header")
    if header.get("format") not in READABLE_FORMATS:
        raise Tampered(f"not a {EXPORT_FORMAT} file")
    if header.get("key") != vkey.strip():
        raise Tampered("the export names another signing key than the one you trust")
    for number, raw in enumerate(iterator, start=2):
        item = _json(raw, f"line {number}")
        if "personal" in item or "redacted" in item:
            _attach_side(item, state, number)
            continue
        _finish_entry(state)
        if "seq" in item:
            if state.lost is not None and not state.lost_checkpoint:
                raise Tampered(
                    f"line {number}: the entries lost before seq {state.tree.size} are not "
                    "closed by the signed checkpoint of that size"
                )
            state.pending = _read_entry(item, state.tree.size)
        elif "lost" in item:
            _jump(item["lost"], state, number)
        elif "checkpoint" in item:
            checkpoint = _check_checkpoint(
                item["checkpoint"], name, public_key, state.tree, verified_upto
            )
            checkpoints[checkpoint.size] = checkpoint
            report.checkpoints += 1
            verified_upto = report.last_checkpoint = checkpoint.size
            if state.lost is not None and state.lost[1] == checkpoint.size:
                state.lost_checkpoint = True
        elif "cosignature" in item:
            _check_cosignature(item, checkpoints)
            report.cosignatures += 1
        else:
            raise Tampered(f"line {number}: neither entry, checkpoint nor co-signature")
    _finish_entry(state)
    if state.lost is not None:
        raise Tampered(f"no decision entry at seq {state.lost[1]} records the entries lost")
    tree = state.tree
    report.entries = tree.size
    if header.get("size") != tree.size:
        raise Tampered(
            f"the header announces {header.get('size')} entries, the file has {tree.size}"
        )
    if kept is not None:
        mine = checkpoints.get(kept.size)
        if kept.size > tree.size or mine is None or mine.root != kept.root:
            raise Tampered(
                f"your kept checkpoint at size {kept.size} is not part of this ledger: "
                "entries were altered, removed or forked since you kept it"
            )
    for seq, (by, _sha) in state.awaiting.items():
        report.tampered.setdefault(
            seq, f"its redaction names entry {by}, which is no ledger.redacted entry listing it"
        )
    report.redacted = sorted(set(report.redacted) - set(report.tampered))
    if report.tampered:
        bad = sorted(report.tampered)
        message = f"seq {bad[0]}: {report.tampered[bad[0]]}"
        if len(bad) > 1:
            message += f"; {len(bad)} entries tampered: seq {_seq_list(bad)}"
        raise Tampered(message + f" ({report.verdicts()})", report)
    return report


def _json(raw: bytes | str, where: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise Tampered(f"{where}: not JSON") from None
    if not isinstance(value, dict):
        raise Tampered(f"{where}: not a JSON object")
    return value


def _read_entry(item: dict[str, object], expected: int) -> _Pending:
    seq = item.get("seq")
    if seq != expected:
        raise Tampered(
            f"seq {expected}: expected next, found {seq!r} (an entry was removed, swapped or "
            "inserted)"
        )
    if not set(ENTRY_FIELDS) <= set(item) or not set(item) <= {*ENTRY_FIELDS, *OPTIONAL_FIELDS}:
        raise Tampered(f"seq {seq}: fields differ from an entry's")
    try:
        canonical = canonical_json(item)
    except EncodingError as exc:
        raise Tampered(f"seq {seq}: {exc}") from None
    return _Pending(expected, item, canonical)


def _attach_side(item: dict[str, object], state: _State, number: int) -> None:
    pending = state.pending
    body = item.get("personal", item.get("redacted"))
    if (
        pending is None
        or pending.side is not None
        or not isinstance(body, dict)
        or body.get("seq") != pending.seq
    ):
        raise Tampered(f"line {number}: a personal part or redaction not right after its entry")
    pending.side = item


def _finish_entry(state: _State) -> None:
    """Judge the pending entry and add its leaf to the tree."""
    pending, report = state.pending, state.report
    if pending is None:
        return
    state.pending = None
    seq, record = pending.seq, pending.record
    leaf = merkle.leaf_hash(pending.canonical)
    side = pending.side or {}
    personal_hash = record.get("personal_hash")
    if "personal" in side:
        part = side["personal"]
        assert isinstance(part, dict)
        if not isinstance(personal_hash, str):
            report.tampered[seq] = "a personal part follows it, but its record holds no hash"
        elif _part_hash(part) != personal_hash:
            report.tampered[seq] = "its personal part does not match the hash in its record"
    elif "redacted" in side:
        marker = side["redacted"]
        assert isinstance(marker, dict)
        by = marker.get("by")
        if not isinstance(by, int) or by <= seq:
            report.tampered[seq] = "its redaction marker names no later ledger.redacted entry"
        elif marker.get("part") == "personal" and isinstance(personal_hash, str):
            state.awaiting[seq] = (by, None)
        elif marker.get("part") == "payload":
            # A scrubbed legacy entry: its record no longer gives its leaf; the marker holds
            # the original, which the tree (and so every checkpoint) checks.
            original = _b64(marker.get("leaf_hash"))
            if original is None:
                report.tampered[seq] = "its redaction marker holds no original leaf hash"
            else:
                leaf = original
                state.awaiting[seq] = (by, hashlib.sha256(pending.canonical).hexdigest())
        else:
            report.tampered[seq] = "its redaction marker does not fit its record"
    elif isinstance(personal_hash, str):
        report.tampered[seq] = "its record holds a personal hash, but neither part nor redaction"
    if record.get("kind") == REDACTED_KIND:
        _note_redaction(seq, record.get("payload"), state)
    if state.lost is not None:
        _check_decision(seq, record, state)
    state.tree.add(leaf)


def _jump(lost: object, state: _State, number: int) -> None:
    """A range lost in an accepted rollback: the tree goes on from the frontier, which must
    agree with every whole subtree of the entries before it."""
    tree = state.tree
    if not isinstance(lost, dict) or state.lost is not None:
        raise Tampered(f"line {number}: a lost range is malformed")
    start, end, encoded = lost.get("start"), lost.get("end"), lost.get("frontier")
    if not isinstance(start, int) or not isinstance(end, int) or not isinstance(encoded, list):
        raise Tampered(f"line {number}: a lost range is malformed")
    if start != tree.size or end <= start:
        raise Tampered(f"line {number}: a lost range {start}..{end} after entry {tree.size}")
    frontier = [_b64(value) for value in encoded]
    sizes = [1 << level for level in reversed(range(end.bit_length())) if (end >> level) & 1]
    if len(frontier) != len(sizes) or any(value is None for value in frontier):
        raise Tampered(f"line {number}: the frontier of a lost range is malformed")
    stack = [(size, value) for size, value in zip(sizes, frontier, strict=True) if value]
    covered = 0
    for position, (size, value) in enumerate(stack):
        covered += size
        if covered <= start and tree.stack[position][1] != value:
            raise Tampered(
                f"line {number}: the entries before seq {start} are not those of the tree the "
                "lost range continues"
            )
    tree.stack, tree.size = stack, end
    state.lost = (start, end, [value.hex() for _size, value in stack])
    state.lost_checkpoint = False
    state.report.lost.append((start, end))


def _check_decision(seq: int, record: dict[str, object], state: _State) -> None:
    """The first entry after a lost range is the admin's decision, naming that range."""
    assert state.lost is not None
    start, end, frontier = state.lost
    state.lost = None
    payload = record.get("payload")
    if (
        record.get("kind") != ROLLBACK_KIND
        or not isinstance(payload, dict)
        or payload.get("lost") != {"first": start, "last": end - 1, "count": end - start}
        or payload.get("frontier") != frontier
    ):
        raise Tampered(f"seq {seq}: no decision entry records the entries {start}..{end - 1} lost")


def _note_redaction(seq: int, payload: object, state: _State) -> None:
    """A ledger.redacted entry: the redacted entries it lists are redacted, not tampered."""
    if not isinstance(payload, dict):
        return
    listed = payload.get("seqs")
    records = payload.get("records") or {}
    if not isinstance(listed, list) or not isinstance(records, dict):
        return
    for redacted in listed:
        waiting = state.awaiting.get(redacted) if isinstance(redacted, int) else None
        if waiting is None or waiting[0] != seq:
            continue
        del state.awaiting[redacted]
        sha = waiting[1]
        if sha is not None and records.get(str(redacted)) != sha:
            state.report.tampered[redacted] = (
                "its scrubbed payload is not the one its redaction recorded"
            )
        else:
            state.report.redacted.append(redacted)


def _part_hash(part: dict[str, object]) -> str | None:
    salt = part.get("salt")
    if not isinstance(salt, str):
        return None
    try:
        return personal_part_hash(bytes.fromhex(salt), canonical_json(part.get("data")))
    except (ValueError, EncodingError):
        return None


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return decoded if len(decoded) == 32 else None


def _check_checkpoint(
    text: object, name: str, public_key: bytes, tree: _Tree, verified_upto: int
) -> note.Checkpoint:
    if not isinstance(text, str):
        raise Tampered("a checkpoint line must hold the signed note as text")
    try:
        checkpoint = note.verify(text, name, public_key)
    except note.NoteError as exc:
        raise Tampered(f"checkpoint: {exc}") from None
    if checkpoint.size != tree.size:
        raise Tampered(f"checkpoint at size {checkpoint.size} placed after entry {tree.size}")
    if checkpoint.root != tree.root():
        raise Tampered(
            f"entries {verified_upto}..{checkpoint.size - 1} do not match the signed checkpoint "
            f"at size {checkpoint.size}: an entry in that range was changed"
        )
    return checkpoint


def _check_cosignature(item: dict[str, object], checkpoints: dict[int, note.Checkpoint]) -> None:
    size, line, witness = item.get("size"), item.get("cosignature"), item.get("witness")
    if not isinstance(size, int) or size not in checkpoints:
        raise Tampered(f"co-signature for unknown checkpoint size {size!r}")
    if not isinstance(line, str) or not isinstance(witness, str):
        raise Tampered("co-signature lines carry the signature line and the witness key")
    try:
        name, _kind, public_key = note.parse_verifier_key(witness)
        _cp, (signature,) = note.parse(checkpoints[size].body() + "\n" + line + "\n")
        note.verify_cosignature(checkpoints[size], signature, name, public_key)
    except (note.NoteError, ValueError) as exc:
        raise Tampered(f"co-signature on checkpoint {size}: {exc}") from None


def _read_key(value: str) -> str:
    if value.startswith("@"):
        return Path(value[1:]).read_text().strip()
    return value


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m siaga.ledger.verify", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("export", type=Path, help="file written by `siaga ledger export`")
    parser.add_argument("--key", required=True, help="the instance's verifier key, or @file")
    parser.add_argument("--checkpoint", type=Path, help="a signed checkpoint you kept earlier")
    args = parser.parse_args(argv)
    try:
        vkey = _read_key(args.key)
        kept = args.checkpoint.read_text() if args.checkpoint else None
        report = verify_export(_lines(args.export), vkey, kept)
    except (OSError, note.NoteError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except Tampered as exc:
        print(f"FAIL: {exc}")
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

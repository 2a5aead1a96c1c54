"""Standalone verifier for a SIAGA ledger export. Imports no Django: an auditor runs it on
their own laptop with only Python and the ``cryptography`` package::

    python -m siaga.ledger.verify EXPORT --key VERIFIER_KEY [--checkpoint FILE]

EXPORT is what ``siaga ledger export`` wrote (JSON lines). VERIFIER_KEY is the instance's
public key as published (``name+keyid+base64``), or ``@file`` holding it; get it from a source
other than the export itself. ``--checkpoint`` is a signed checkpoint you kept earlier (for
instance the one you co-signed yesterday): the export must contain the same tree at that size,
which proves that nothing before it was altered, removed or forked since.

Exit 0 when everything checks out, 1 with the first problem found, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from siaga.ledger import merkle, note
from siaga.ledger.encoding import ENTRY_FIELDS, EncodingError, canonical_json

EXPORT_FORMAT = "siaga-ledger-export/1"


class Tampered(Exception):
    """The export does not hold up; the message says where and what."""


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    last_checkpoint: int = 0

    def summary(self) -> str:
        uncovered = self.entries - self.last_checkpoint
        text = (
            f"OK: {self.entries} entries, {self.checkpoints} signed checkpoints, "
            f"{self.cosignatures} witness co-signatures verified"
        )
        if uncovered:
            text += f"; the last {uncovered} entries are not yet under a signed checkpoint"
        return text


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


def verify_export(
    lines: Iterable[bytes | str], vkey: str, kept_checkpoint: str | None = None
) -> Report:
    """Check every entry, every checkpoint signature and every co-signature in an export."""
    name, _kind, public_key = note.parse_verifier_key(vkey)
    kept = note.verify(kept_checkpoint, name, public_key) if kept_checkpoint else None
    report = Report()
    tree = _Tree()
    verified_upto = 0  # entries before this index are under a verified checkpoint
    checkpoints: dict[int, note.Checkpoint] = {}
    iterator = iter(lines)
    header = _json(next(iterator, b""), "header")
    if header.get("format") != EXPORT_FORMAT:
        raise Tampered(f"not a {EXPORT_FORMAT} file")
    if header.get("key") != vkey.strip():
        raise Tampered("the export names another signing key than the one you trust")
    for number, raw in enumerate(iterator, start=2):
        item = _json(raw, f"line {number}")
        if "seq" in item:
            _add_entry(item, tree)
        elif "checkpoint" in item:
            checkpoint = _check_checkpoint(
                item["checkpoint"], name, public_key, tree, verified_upto
            )
            checkpoints[checkpoint.size] = checkpoint
            report.checkpoints += 1
            verified_upto = report.last_checkpoint = checkpoint.size
        elif "cosignature" in item:
            _check_cosignature(item, checkpoints)
            report.cosignatures += 1
        else:
            raise Tampered(f"line {number}: neither entry, checkpoint nor co-signature")
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
    return report


def _json(raw: bytes | str, where: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise Tampered(f"{where}: not JSON") from None
    if not isinstance(value, dict):
        raise Tampered(f"{where}: not a JSON object")
    return value


def _add_entry(item: dict[str, object], tree: _Tree) -> None:
    seq = item.get("seq")
    if seq != tree.size:
        raise Tampered(
            f"seq {tree.size}: expected next, found {seq!r} (an entry was removed, swapped or "
            "inserted)"
        )
    if set(item) != set(ENTRY_FIELDS):
        raise Tampered(f"seq {seq}: fields differ from an entry's")
    try:
        tree.add(merkle.leaf_hash(canonical_json(item)))
    except EncodingError as exc:
        raise Tampered(f"seq {seq}: {exc}") from None


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

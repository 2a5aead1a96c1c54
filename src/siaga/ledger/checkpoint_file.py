"""The latest signed checkpoint, kept outside the database: ``SIAGA_HOME/ledger/checkpoint.json``.

A database put back to an older copy takes its checkpoints with it; this file does not. It is
written after each checkpoint and each witness co-signature truly commits (never for one rolled
back with its transaction, nor inside a test's transaction), atomically (temporary file, fsync,
rename, fsync of the folder), and never goes back to a smaller tree of the same ledger. It
holds:

- ``genesis``: the leaf hash of entry 0, which names the ledger: a database whose first entry
  differs is another ledger (a fresh install, the next test's), and the file says nothing
  about it;
- the checkpoint (size, root, time, signed note) and the co-signatures it received;
- ``frontier``: the roots of the perfect subtrees of its tree (``merkle.right_edge``), the
  log2(size) hashes from which the tree can be continued past that size without its leaves.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from siaga.ledger import keys, merkle, note

FORMAT = "siaga-ledger-checkpoint/1"
logger = logging.getLogger("siaga.ledger")


class CheckpointFileError(Exception):
    """The kept checkpoint file cannot be read or does not verify; the message says why."""


@dataclass
class Kept:
    genesis: bytes
    size: int
    root: bytes
    signed_at: datetime
    note: str
    frontier: list[bytes]
    # {"witness": vkey, "signature_line": …, "cosigned_at": ISO time}
    cosignatures: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "genesis": _b64(self.genesis),
            "size": self.size,
            "root": _b64(self.root),
            "signed_at": self.signed_at.isoformat(),
            "note": self.note,
            "cosignatures": self.cosignatures,
            "frontier": [_b64(h) for h in self.frontier],
        }

    def cosigned_note(self) -> str:
        """The signed note with the witnesses' lines: what ``--checkpoint`` of the standalone
        verifier and a witness's state file take."""
        lines = [c["signature_line"] for c in self.cosignatures]
        return self.note + "".join(line + "\n" for line in lines)


def path() -> Path:
    return Path(settings.SIAGA_HOME) / "ledger" / "checkpoint.json"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def read() -> Kept | None:
    """The kept checkpoint, None when there is no file. A file that is malformed or whose note
    does not carry this instance's signature raises ``CheckpointFileError``."""
    file = path()
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointFileError(f"{file}: {exc}") from None
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        kept = Kept(
            genesis=base64.b64decode(data["genesis"], validate=True),
            size=int(data["size"]),
            root=base64.b64decode(data["root"], validate=True),
            signed_at=datetime.fromisoformat(data["signed_at"]),
            note=str(data["note"]),
            frontier=[base64.b64decode(h, validate=True) for h in data["frontier"]],
            cosignatures=list(data.get("cosignatures") or []),
        )
        signed = note.verify(kept.note, keys.origin(), keys.public_key())
    except (ValueError, KeyError, TypeError, note.NoteError) as exc:
        raise CheckpointFileError(f"{file}: {exc}") from None
    if signed.size != kept.size or signed.root != kept.root:
        raise CheckpointFileError(f"{file}: size or root differs from its signed note")
    if len(kept.frontier) != kept.size.bit_count() or frontier_root(kept) != kept.root:
        raise CheckpointFileError(f"{file}: its frontier does not give the checkpoint's root")
    return kept


def frontier_root(kept: Kept) -> bytes:
    return root_of_frontier(kept.frontier)


def root_of_frontier(frontier: list[bytes]) -> bytes:
    """The root of a tree from the roots of its perfect subtrees, largest first."""
    if not frontier:
        return merkle.EMPTY_ROOT
    value = frontier[-1]
    for left in reversed(frontier[:-1]):
        value = merkle.node_hash(left, value)
    return value


def genesis() -> bytes | None:
    """The leaf hash of entry 0 of this database: the ledger's identity."""
    from siaga.ledger.models import Entry

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT leaf_hash FROM {Entry._meta.db_table} WHERE seq = 0")  # noqa: S608
        row = cursor.fetchone()
    return bytes(row[0]) if row else None


def record(size: int) -> None:
    """Keep the checkpoint of ``size`` (and the co-signatures it has so far) in the file.
    Run after the commit that made it; a failure is logged, never raised into the caller."""
    from siaga.ledger import services
    from siaga.ledger.models import Checkpoint

    if connection.in_atomic_block:
        # Still inside a transaction, so nothing truly committed: a test's, which rolls back
        # (its on-commit callbacks run at once). Kept, it would take the next test's database
        # for one put back to an older copy.
        return
    try:
        checkpoint = Checkpoint.objects.filter(size=size).first()
        first = genesis()
        if checkpoint is None or first is None:
            return
        values = services.read_nodes(merkle.right_edge(size))
        cosignatures = [
            {
                "witness": note.verifier_key(
                    c.witness.name, bytes(c.witness.public_key), note.COSIGNATURE_V1
                ),
                "signature_line": c.signature_line,
                "cosigned_at": c.cosigned_at.isoformat(),
            }
            for c in checkpoint.cosignatures.select_related("witness").order_by("cosigned_at")
        ]
        write(
            Kept(
                genesis=first,
                size=size,
                root=bytes(checkpoint.root_hash),
                signed_at=checkpoint.signed_at,
                note=checkpoint.note,
                frontier=[values[key] for key in merkle.right_edge(size)],
                cosignatures=cosignatures,
            )
        )
    except Exception:
        logger.exception("could not keep checkpoint %s in %s", size, path())


def write(kept: Kept) -> bool:
    """Replace the file atomically, unless it holds a larger checkpoint of the same ledger
    (two processes finishing out of order). At the same size the co-signatures are merged.
    Returns whether it was written."""
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    with (file.parent / "checkpoint.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read()
        except CheckpointFileError:
            current = None  # unreadable: the new one replaces it
        if current is not None and current.genesis == kept.genesis:
            if current.size > kept.size:
                return False
            if current.size == kept.size:
                lines = {c["signature_line"] for c in kept.cosignatures}
                kept.cosignatures += [
                    c for c in current.cosignatures if c["signature_line"] not in lines
                ]
        text = json.dumps(kept.as_json(), indent=1, ensure_ascii=False) + "\n"
        fd, temporary = tempfile.mkstemp(prefix=".checkpoint.", dir=file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return True

"""A database put back behind the checkpoint kept outside it: caught, held, decided.

``detect`` compares the database with ``checkpoint_file`` (at start-up of ``siaga serve`` and
``siaga worker``, in the worker's housekeeping, before each checkpoint and in ``siaga ledger
verify``). A database of the same ledger (same entry 0) whose tree is smaller than the kept
checkpoint, or whose root at its size differs, gets a ``Rollback`` row and ``Head.held``: every
append then raises ``LedgerRolledBack`` (503 ``ledger_rolled_back``) and no checkpoint is signed,
while reads go on. The listeners registered by higher apps (the alarms app raises a critical
``ledger/rollback`` alarm) hear of it; the ledger imports none of them.

``accept`` is the admin's decision (``siaga ledger accept-rollback``): it continues the tree at
the checkpoint's size from its frontier, so the entries in between are lost but the witnessed
checkpoint is extended, never forked, and records the decision as the entry at that size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import Conflict, InvalidInput, SiagaError
from siaga.ledger import checkpoint_file, merkle, note, redaction
from siaga.ledger.encoding import canonical_json
from siaga.ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    Head,
    Node,
    Rollback,
    WitnessKey,
    format_time,
    node_key,
)

ACCEPTED_KIND = "ledger.rollback_accepted"
REASON_MAX_LENGTH = Rollback._meta.get_field("reason").max_length or 300
logger = logging.getLogger("siaga.ledger")


class LedgerRolledBack(SiagaError):
    """Appending to a ledger that is behind its kept checkpoint, before an admin decided."""

    status = 503


_detected: list[Callable[[Rollback], object]] = []
_decided: list[Callable[[Rollback, Any], object]] = []


def on_detected(listener: Callable[[Rollback], object]) -> None:
    """Call ``listener(rollback)`` when a rollback is first found, in that transaction."""
    if listener not in _detected:
        _detected.append(listener)


def on_decided(listener: Callable[[Rollback, Any], object]) -> None:
    """Call ``listener(rollback, actor)`` when an admin accepted it, in that transaction."""
    if listener not in _decided:
        _decided.append(listener)


def signed_on(rollback: Rollback) -> str:
    return rollback.checkpoint_signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(rollback: Rollback) -> str:
    """The rollback in words, as verify and the logs say it."""
    text = (
        f"the ledger holds {rollback.held_size} entries but checkpoint "
        f"{rollback.checkpoint_size} was signed on {signed_on(rollback)}"
    )
    if rollback.forked:
        text += f", and its tree at size {rollback.checkpoint_size} has another root (a fork)"
    return text


def open_rollback() -> Rollback | None:
    return Rollback.objects.filter(decided_at__isnull=True).order_by("-detected_at").first()


def refusal() -> LedgerRolledBack:
    """The error every write answers while a rollback waits for its decision."""
    rollback = open_rollback()
    if rollback is None:  # held without a row: a hand-edited head
        return LedgerRolledBack(
            "ledger_rolled_back",
            _("The ledger is held: writes are refused until an administrator decides."),
        )
    return LedgerRolledBack(
        "ledger_rolled_back",
        _(
            "The ledger holds %(held)s entries but checkpoint %(size)s was signed on "
            "%(signed)s: the database was put back to an older copy. Writes are refused "
            "until an administrator decides."
        )
        % {
            "held": rollback.held_size,
            "size": rollback.checkpoint_size,
            "signed": signed_on(rollback),
        },
        detail={
            "held": rollback.held_size,
            "checkpoint": rollback.checkpoint_size,
            "signed_at": format_time(rollback.checkpoint_signed_at),
            "forked": rollback.forked,
        },
    )


def _lock_head() -> int:
    from siaga.ledger import services

    with connection.cursor() as cursor:
        cursor.execute(services._LOCK_HEAD, [services.HEAD_ID])
        row = cursor.fetchone()
    return int(row[0]) if row else 0  # no head row (an emptied database): an empty ledger


def detect() -> Rollback | None:
    """The undecided rollback of this database, found now or before; None when the database
    is not behind the kept checkpoint (or no checkpoint is kept, or it is another ledger's)."""
    from siaga.ledger import services

    try:
        kept = checkpoint_file.read()
    except checkpoint_file.CheckpointFileError as exc:
        logger.error("the kept checkpoint cannot be used: %s", exc)
        return open_rollback()
    if kept is None:
        return open_rollback()
    with transaction.atomic():
        size = _lock_head()
        existing = Rollback.objects.filter(decided_at__isnull=True).first()
        if existing is not None:
            return existing
        if checkpoint_file.genesis() != kept.genesis:
            return None
        forked = False
        if size >= kept.size:
            try:
                forked = services.root_hash(kept.size) != kept.root
            except (services.LedgerUsageError, SiagaError):
                forked = True  # the stored tree lacks nodes at that size
            if not forked:
                return None
        rollback = Rollback.objects.create(
            detected_at=timezone.now(),
            held_size=size,
            forked=forked,
            checkpoint_size=kept.size,
            checkpoint_root=kept.root,
            checkpoint_signed_at=kept.signed_at,
            checkpoint_note=kept.note,
            cosignatures=kept.cosignatures,
            frontier=[h.hex() for h in kept.frontier],
        )
        Head.objects.filter(pk=services.HEAD_ID).update(held=True)
        logger.critical("ledger rolled back: %s; writes are refused", describe(rollback))
        for listener in _detected:
            try:
                with transaction.atomic():
                    listener(rollback)
            except Exception:
                logger.exception("a listener of the ledger rollback failed")
        return rollback


def check_at_start() -> str | None:
    """``detect`` for ``siaga serve`` and ``siaga worker`` as they start: the rollback in words,
    or None. A database not yet migrated is no rollback (the logs say it could not look)."""
    try:
        found = detect()
    except DatabaseError as exc:
        logger.warning("could not compare the ledger with its kept checkpoint: %s", exc)
        return None
    except Exception:  # never the reason a worker or web server does not start
        logger.exception("could not compare the ledger with its kept checkpoint")
        return None
    return describe(found) if found is not None else None


def refuse_if_rolled_back() -> None:
    """Raise ``LedgerRolledBack`` when the database is behind the kept checkpoint."""
    if detect() is not None:
        raise refusal()


@dataclass(frozen=True)
class Gap:
    """Entries ``start``..``end - 1`` lost in an accepted rollback; the tree goes on at ``end``
    from ``frontier`` (the perfect subtrees of the tree of ``end``), decided at seq ``end``."""

    start: int
    end: int
    frontier: list[bytes]
    root: bytes


def gaps() -> list[Gap]:
    return [
        Gap(
            r.held_size,
            r.checkpoint_size,
            [bytes.fromhex(h) for h in r.frontier],
            bytes(r.checkpoint_root),
        )
        for r in Rollback.objects.filter(decided_at__isnull=False).order_by("held_size")
    ]


def lost_nodes(missing: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Leaves (level 0) lost in an accepted rollback that its frontier kept, stored as nodes.
    Other subtrees of the lost range are gone: asking for them is ``ledger_range_lost``."""
    lost = [index for level, index in missing if level == 0]
    found: dict[tuple[int, int], bytes] = {}
    if lost:
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(lost))
            sql = f"SELECT key, hash FROM {Node._meta.db_table} WHERE key IN ({marks})"  # noqa: S608
            cursor.execute(sql, lost)
            found = {(0, int(key)): bytes(value) for key, value in cursor.fetchall()}
    if set(missing) - set(found) and (known := gaps()):
        raise Conflict(
            "ledger_range_lost",
            _("This needs entries lost when the database was put back to an older copy."),
            detail={"lost": [[gap.start, gap.end - 1] for gap in known]},
        )
    return found


def checkpoint_after(last: Cosignature, size: int) -> Cosignature:
    """Where a witness's consistency is checked from: its last co-signed checkpoint, or the
    checkpoint of an accepted rollback since (the entries before it may be lost; its decision
    entry, under the new checkpoint, says so)."""
    base = max([gap.end for gap in gaps() if gap.end <= size], default=0)
    if last.checkpoint.size >= base:
        return last
    return Cosignature(checkpoint=Checkpoint.objects.get(size=base))


def _check_reason(reason: str) -> None:
    if not reason:
        raise InvalidInput("rollback_reason_required", _("Say why the rollback is accepted."))
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            "rollback_reason_invalid",
            _("The reason is longer than it may be."),
            detail={"max_length": REASON_MAX_LENGTH},
        )
    if "\x00" in reason or redaction.forbidden_in(canonical_json(reason).decode()) is not None:
        raise InvalidInput(
            "rollback_reason_invalid",
            _("The reason may not hold a NIK, a phone number or odd characters."),
        )


def accept(*, reason: str, actor: Any) -> Entry:
    """The admin's decision: the entries between the database's size and the kept checkpoint
    are lost. The tree goes on at the checkpoint's size from its frontier, the checkpoint (and
    the co-signatures of witnesses still known) is stored again, and the decision is the entry
    at that size, naming the lost range. Writes resume when it commits."""
    from siaga.ledger import services

    reason = (reason or "").strip()
    _check_reason(reason)
    username = getattr(actor, "username", actor or "") or ""
    with transaction.atomic():
        size = _lock_head()
        rollback = Rollback.objects.select_for_update().filter(decided_at__isnull=True).first()
        if rollback is None:
            raise Conflict(
                "ledger_not_rolled_back",
                _("The ledger is not behind its kept checkpoint: there is nothing to decide."),
            )
        end = rollback.checkpoint_size
        if rollback.forked or size != rollback.held_size:
            raise Conflict(
                "ledger_rollback_forked",
                _(
                    "Entries were written after the restore where the lost entries were: the "
                    "tree cannot continue the checkpoint. Restore a copy taken before the "
                    "checkpoint, or the newer copy."
                ),
                detail={"held": size, "checkpoint": end},
            )
        frontier = [bytes.fromhex(h) for h in rollback.frontier]
        edge = merkle.right_edge(end)
        # Subtrees the restored copy holds whole must be the checkpoint's: else it is no prefix
        # of the witnessed tree, and continuing would hide a fork.
        whole = [
            (key, value)
            for key, value in zip(edge, frontier, strict=True)
            if (key[1] + 1) << key[0] <= size
        ]
        stored = services.read_nodes(key for key, _value in whole)
        if any(stored[key] != value for key, value in whole):
            raise Conflict(
                "ledger_rollback_not_prefix",
                _("The restored database is not an older copy of the checkpoint's ledger."),
                detail={"held": size, "checkpoint": end},
            )
        with connection.cursor() as cursor:
            services.insert_nodes(
                cursor,
                [
                    (node_key(level, index), value)
                    for (level, index), value in zip(edge, frontier, strict=True)
                    if (index + 1) << level > size
                ],
            )
        checkpoint, _created = Checkpoint.objects.get_or_create(
            size=end,
            defaults={
                "root_hash": bytes(rollback.checkpoint_root),
                "signed_at": rollback.checkpoint_signed_at,
                "note": rollback.checkpoint_note,
            },
        )
        witnesses = _restore_cosignatures(checkpoint, rollback.cosignatures)
        Head.objects.filter(pk=services.HEAD_ID).update(size=end, held=False)
        entry = services.append(
            kind=ACCEPTED_KIND,
            subject=("ledger.rollback", str(rollback.pk)),
            payload={
                "lost": {"first": size, "last": end - 1, "count": end - size},
                "checkpoint": {
                    "size": end,
                    "root": bytes(rollback.checkpoint_root).hex(),
                    "signed_at": format_time(rollback.checkpoint_signed_at),
                    "cosigned_by": witnesses,
                },
                "frontier": rollback.frontier,
                "detected_at": format_time(rollback.detected_at),
                "reason": reason,
                "decided_by": username,
            },
            actor=username,
        )
        if entry.seq != end:  # the head is locked: this cannot happen
            raise services.LedgerUsageError(f"decision appended at {entry.seq}, not {end}")
        rollback.decided_at = entry.recorded_at
        rollback.decided_by = username
        rollback.reason = reason
        rollback.decision_seq = entry.seq
        rollback.save()
        for listener in _decided:
            listener(rollback, actor)
    return entry


def _restore_cosignatures(checkpoint: Checkpoint, kept: list[dict[str, str]]) -> list[str]:
    """The kept co-signatures of witnesses the database still knows, stored again; returns
    the names of every witness that co-signed (known or not)."""
    names = []
    for item in kept:
        try:
            name, _kind, public_key = note.parse_verifier_key(item["witness"])
        except (note.NoteError, KeyError):
            continue
        names.append(name)
        witness = WitnessKey.objects.filter(name=name, public_key=public_key).first()
        if witness is not None:
            Cosignature.objects.get_or_create(
                checkpoint=checkpoint,
                witness=witness,
                defaults={
                    "signature_line": item["signature_line"],
                    "cosigned_at": item["cosigned_at"],
                },
            )
    return sorted(set(names))

"""Export the ledger, and verify the stored ledger end to end (``siaga ledger verify``)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import IO, Any

from django.db import connection

from siaga.ledger import checkpoint_file, keys, merkle, note, parts, rollback, services
from siaga.ledger.encoding import ENTRY_TEMPLATE, json_string, personal_fragment
from siaga.ledger.models import LEVEL_SHIFT, Checkpoint, Cosignature, Entry, Node
from siaga.ledger.verify import EXPORT_FORMAT

CHUNK_LEVEL = 14
CHUNK = 1 << CHUNK_LEVEL  # entries per step of verify; aligned, so each full chunk is a subtree


class Broken(Exception):
    """The stored ledger does not hold up; ``seq`` is the first entry concerned, if known.
    ``tampered`` maps each tampered entry found to what is wrong with it; ``redacted`` lists
    the redacted entries, which are not counted as tampered."""

    def __init__(
        self,
        message: str,
        seq: int | None = None,
        *,
        tampered: dict[int, str] | None = None,
        redacted: list[int] | None = None,
    ) -> None:
        super().__init__(message)
        self.seq = seq
        self.tampered = tampered or {}
        self.redacted = redacted or []


@dataclass
class Verified:
    entries: int
    checkpoints: int
    cosignatures: int
    # Entries whose personal part was erased or whose legacy payload was scrubbed, by a
    # redaction that a ``ledger.redacted`` entry lists: not tampered.
    redacted: list[int] = dataclass_field(default_factory=list)
    # (start, end) of each range lost in an accepted rollback
    lost: list[tuple[int, int]] = dataclass_field(default_factory=list)

    @property
    def untouched(self) -> int:
        return self.entries - len(self.redacted) - sum(end - start for start, end in self.lost)

    def summary(self) -> str:
        """The verdicts in words: how many untouched, which redacted, which lost."""
        if not self.redacted:
            text = (
                f"all {self.untouched} untouched"
                if not self.lost
                else f"{self.untouched} untouched"
            )
        else:
            text = (
                f"{self.untouched} untouched, {len(self.redacted)} redacted "
                f"(seq {seq_list(self.redacted)}), 0 tampered"
            )
        for start, end in self.lost:
            text += (
                f", {end - start} lost (seq {start}..{end - 1}, a rollback accepted at seq {end})"
            )
        return text


def seq_list(seqs: Sequence[int], most: int = 20) -> str:
    shown = ", ".join(str(s) for s in seqs[:most])
    return shown + (f" and {len(seqs) - most} more" if len(seqs) > most else "")


def _tampered_broken(verdicts: parts.Verdicts, also: str = "") -> Broken:
    bad = sorted(verdicts.tampered)
    first = bad[0]
    message = f"seq {first}: {verdicts.tampered[first]}"
    if len(bad) > 1:
        message += f"; {len(bad)} entries tampered: seq {seq_list(bad)}"
    redacted = verdicts.redacted_seqs()
    if redacted:
        message += f"; {len(redacted)} redacted (not tampered): seq {seq_list(redacted)}"
    if also:
        message += f"; {also}"
    return Broken(message, first, tampered=dict(verdicts.tampered), redacted=redacted)


def _subtree_broken(level: int, index: int, verdicts: parts.Verdicts | None = None) -> None:
    first = index << level
    what = (
        f"stored subtree over seq {first}..{first + (1 << level) - 1} differs from the entries "
        "(a leaf hash or subtree was rewritten)"
    )
    if verdicts is not None and verdicts.tampered:
        raise _tampered_broken(verdicts, also=what)  # the entries say more precisely what
    raise Broken(what, first)


def _chunk_reader(
    start: int, levels: list[list[bytes]], stored: dict[int, bytes]
) -> merkle.NodeReader:
    """Subtree hashes for a root: this chunk's from memory, earlier (verified) ones stored."""

    def read(key: tuple[int, int]) -> bytes:
        level, index = key
        if index << level >= start and level < len(levels):
            return levels[level][index - (start >> level)]
        return stored[(level << LEVEL_SHIFT) | index]

    return read


def _select() -> str:
    """Entries with the time and id as text: datetime and UUID objects would cost more than
    the hashing. Python then spells the canonical bytes (``encoding.ENTRY_TEMPLATE``)."""
    table = Entry._meta.db_table
    if connection.vendor == "postgresql":
        time = "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        entry_id = "entry_id::text"
    else:
        time = "recorded_at || ''"  # an expression, so SQLite's datetime converter stays out
        entry_id = "entry_id"
    return (
        f"SELECT seq, {entry_id}, {time}, actor, unit, region, kind, subject_type, subject_id, "  # noqa: S608 - constant names
        f"payload, personal_hash, leaf_hash FROM {table} WHERE seq >= %s AND seq < %s ORDER BY seq"
    )


def _chunks(query: str, size: int) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """(start, rows) of ``query`` for each chunk of seq below ``size``, through a raw cursor:
    the ORM would cost more than the hashing. Bounded ranges, so that even stale planner
    statistics pick the primary key."""
    with connection.cursor() as cursor:
        for start in range(0, size, CHUNK):
            cursor.execute(query, [start, min(start + CHUNK, size)])
            yield start, cursor.fetchall()


def _text_id(value: str) -> str:
    """SQLite keeps a UUID as 32 hex digits; the record spells it with dashes."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def _text_time(value: str) -> str:
    """SQLite keeps UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]"; PostgreSQL already formatted it."""
    if value[10] == " ":
        fraction = value[20:26]
        return f"{value[:10]}T{value[11:19]}.{fraction:0<6}Z"
    return value


class _Speller:
    """Canonical bytes of fetched rows. Actors, units, regions, kinds and one batch's time
    repeat, so each spelling is escaped once."""

    def __init__(self) -> None:
        self.escaped: dict[str, str] = {}
        self.times: dict[str, str] = {}

    def escape(self, value: str) -> str:
        spelled = self.escaped.get(value)
        if spelled is None:
            spelled = self.escaped[value] = json_string(value)
        return spelled

    def time(self, value: str) -> str:
        spelled = self.times.get(value)
        if spelled is None:
            spelled = self.times[value] = json_string(_text_time(value))
        return spelled

    def line(self, row: tuple[Any, ...]) -> str:
        """The entry's canonical bytes as text: one line of an export, one leaf of verify."""
        q, i, t, a, u, r, k, st, sid, p, ph, _h = row
        get, escape, s = self.escaped.get, self.escape, json_string
        return ENTRY_TEMPLATE % (
            get(a) or escape(a),
            s(_text_id(i)),
            get(k) or escape(k),
            p if p.endswith("}") else s(p),  # see _spelled_select
            "" if ph is None else personal_fragment(ph),
            get(r) or escape(r),
            q,
            s(sid),
            get(st) or escape(st),
            self.times.get(t) or self.time(t),
            get(u) or escape(u),
        )

    def leaves(self, rows: list[tuple[Any, ...]]) -> list[bytes]:
        sha256, line = hashlib.sha256, self.line
        return [sha256(b"\x00" + line(row).encode("utf-8")).digest() for row in rows]


def _level_hashes(level: int, base: int, count: int) -> list[bytes | None]:
    """Stored hashes of ``count`` subtrees of one level from index ``base``; None where one
    is missing."""
    first = (level << LEVEL_SHIFT) | base
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key, hash FROM {Node._meta.db_table} "  # noqa: S608
            "WHERE key >= %s AND key < %s ORDER BY key",
            [first, first + count],
        )
        rows = cursor.fetchall()
    if len(rows) == count:  # keys are unique and in range: all there, in order
        return [bytes(value) for _key, value in rows]
    found = {int(key): bytes(value) for key, value in rows}
    return [found.get(first + j) for j in range(count)]


def _level_joined(level: int, base: int, count: int) -> bytes:
    """The same hashes joined into one value by the database: one object to fetch, not
    ``count``. Compared against the recomputed level; ``_level_hashes`` finds the culprit."""
    first = (level << LEVEL_SHIFT) | base
    table = Node._meta.db_table
    if connection.vendor == "postgresql":
        sql = f"SELECT string_agg(hash, ''::bytea ORDER BY key) FROM {table} WHERE key >= %s AND key < %s"  # noqa: E501, S608
    else:
        sql = (
            f"SELECT group_concat(hex(hash), '') FROM (SELECT hash FROM {table} "  # noqa: S608
            "WHERE key >= %s AND key < %s ORDER BY key)"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [first, first + count])
        (joined,) = cursor.fetchone()
    if joined is None:
        return b""
    return bytes.fromhex(joined) if isinstance(joined, str) else bytes(joined)


def _spelled_select() -> str:
    """Entries spelled as their canonical records by the database itself: (seq, record,
    leaf hash). Three columns fetch far faster than eleven, and the database formats in C.
    Any JSON encoder is injective, so a record spelled differently from Python's can only
    make a leaf look wrong, never hide a change; verify then re-spells that chunk in Python
    (``_Speller``), which is the authority.

    A payload is spelled as stored only when it ends as a JSON object does, "}"; any other text
    as a JSON string. The personal hash, when there is one, follows the payload: without that
    rule, text moved from the hash into the end of the payload would spell the same record."""
    table = Entry._meta.db_table
    if connection.vendor == "postgresql":
        quote = "to_json({}::text)::text"
        entry_id = "entry_id::text"
        time = "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        seq = "seq::text"
        parts = [
            "'{\"actor\":'", quote.format("actor"),
            "',\"id\":\"'", entry_id,
            "'\",\"kind\":'", quote.format("kind"),
            "',\"payload\":'",
            "CASE WHEN right(payload, 1) = '}' THEN payload ELSE to_json(payload)::text END",
            "coalesce(',\"personal_hash\":' || to_json(personal_hash::text)::text, '')",
            "',\"region\":'", quote.format("region"),
            "',\"seq\":'", seq,
            "',\"subject_id\":'", quote.format("subject_id"),
            "',\"subject_type\":'", quote.format("subject_type"),
            "',\"time\":\"'", time,
            "'\",\"unit\":'", quote.format("unit"),
            "'}'",
        ]  # fmt: skip
        record = " || ".join(parts)
    else:
        # One printf builds the record: SQLite then allocates once, not once per piece. The
        # UUID is kept as 32 hex digits and the time as "YYYY-MM-DD HH:MM:SS[.ffffff]".
        # (%% is a literal % once Django has put in the parameters.)
        record = (
            'printf(\'{"actor":%%s,"id":"%%.8s-%%.4s-%%.4s-%%.4s-%%s","kind":%%s,'
            '"payload":%%s%%s,"region":%%s,"seq":%%d,"subject_id":%%s,'
            '"subject_type":%%s,"time":"%%.10sT%%.8s.%%.6sZ","unit":%%s}\', '
            "json_quote(actor), entry_id, substr(entry_id, 9), substr(entry_id, 13), "
            "substr(entry_id, 17), substr(entry_id, 21), json_quote(kind), "
            "iif(substr(payload, -1) = '}', payload, json_quote(payload)), "
            "iif(personal_hash IS NULL, '', ',\"personal_hash\":' || json_quote(personal_hash)), "
            "json_quote(region), seq, json_quote(subject_id), json_quote(subject_type), "
            "recorded_at, substr(recorded_at, 12), substr(recorded_at, 21) || '000000', "
            "json_quote(unit))"
        )
    return (
        f"SELECT seq, {record}, leaf_hash FROM {table} "  # noqa: S608 - constants
        "WHERE seq >= %s AND seq < %s ORDER BY seq"
    )


def _spelled_chunks(size: int) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """(start, rows of (seq, canonical record, leaf hash)) for each chunk below ``size``."""
    return _chunks(_spelled_select(), size)


def _python_lines(start: int, count: int) -> list[str]:
    """Canonical records of seq ``start`` onwards, spelled field by field in Python."""
    with connection.cursor() as cursor:
        cursor.execute(_select(), [start, start + count])
        speller = _Speller()
        return [speller.line(row) for row in cursor.fetchall()]


def _python_leaves(start: int, count: int) -> list[bytes]:
    """Leaf hashes of seq ``start`` onwards, spelled field by field in Python."""
    with connection.cursor() as cursor:
        cursor.execute(_select(), [start, start + count])
        return _Speller().leaves(cursor.fetchall())


def _judge_leaves(
    start: int,
    leaves: list[bytes],
    stored: list[bytes],
    legacy: dict[int, parts.LegacyRedaction],
    redactions: dict[int, parts.RedactionEntry],
    verdicts: parts.Verdicts,
) -> None:
    """The entries of one chunk whose recomputed leaf is not the stored one: scrubbed legacy
    entries that hold up are redacted, every other one is tampered. Where the database's
    spelling differs from Python's, Python (``_Speller``) decides."""
    odd = [i for i, (a, b) in enumerate(zip(leaves, stored, strict=True)) if a != b]
    if any(start + i not in legacy for i in odd):
        leaves[:] = _python_leaves(start, len(leaves))
        odd = [i for i, (a, b) in enumerate(zip(leaves, stored, strict=True)) if a != b]
    if not odd:
        return
    lines = _python_lines(start, len(leaves)) if any(start + i in legacy for i in odd) else []
    for i in odd:
        seq = start + i
        redaction = legacy.get(seq)
        if redaction is not None and parts.legacy_sound(
            seq, stored[i], lines[i], redaction, redactions
        ):
            verdicts.redacted.add(seq)
        else:
            verdicts.tamper(seq, parts.LEGACY_UNSOUND if redaction else parts.LEAF_MISMATCH)


def _first_difference(left: Sequence[bytes], right: Sequence[bytes | None]) -> int:
    return next(i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b)


class _GapCheck:
    """The entries after an accepted rollback, ``gap.end`` to ``stop``: the tree goes on from
    the frontier kept with the checkpoint, one leaf at a time (the fast path above needs the
    whole tree from seq 0)."""

    def __init__(
        self, gap: rollback.Gap, stop: int, wanted: set[int], roots: dict[int, bytes]
    ) -> None:
        self.gap, self.stop, self.wanted, self.roots = gap, stop, wanted, roots

    def run(
        self,
        edge: list[tuple[int, int, bytes]],
        legacy: dict[int, parts.LegacyRedaction],
        redactions: dict[int, parts.RedactionEntry],
        verdicts: parts.Verdicts,
    ) -> list[tuple[int, int, bytes]]:
        gap = self.gap
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT min(seq) FROM {Entry._meta.db_table} WHERE seq >= %s AND seq < %s",  # noqa: S608
                [gap.start, gap.end],
            )
            (inside,) = cursor.fetchone()
        if inside is not None:
            raise Broken(
                f"seq {inside}: an entry where the rollback decided at seq {gap.end} lost them",
                int(inside),
            )
        keys_ = merkle.right_edge(gap.end)
        if (
            len(keys_) != len(gap.frontier)
            or checkpoint_file.root_of_frontier(gap.frontier) != gap.root
        ):
            raise Broken(f"seq {gap.end}: the rollback's frontier does not give its checkpoint")
        held = {(level, index): value for level, index, value in edge}
        for (level, index), value in zip(keys_, gap.frontier, strict=True):
            if (index + 1) << level <= gap.start and held.get((level, index)) != value:
                raise Broken(
                    f"seq {index << level}: the entries before the rollback decided at seq "
                    f"{gap.end} are not those of its checkpoint",
                    index << level,
                )
        stored = services.read_nodes(keys_)
        for key, value in zip(keys_, gap.frontier, strict=True):
            if stored[key] != value:
                _subtree_broken(*key)
        self._check_decision()
        self.roots[gap.end] = gap.root
        pairs = zip(keys_, gap.frontier, strict=True)
        edge = [(level, index, value) for (level, index), value in pairs]
        query = _spelled_select()
        with connection.cursor() as cursor:
            for start in range(gap.end, self.stop, CHUNK):
                end = min(start + CHUNK, self.stop)
                cursor.execute(query, [start, end])
                rows = cursor.fetchall()
                if [int(row[0]) for row in rows] != list(range(start, end)):
                    present = {int(row[0]) for row in rows}
                    missing = next(seq for seq in range(start, end) if seq not in present)
                    raise Broken(f"seq {missing} is missing: the entry was removed", missing)
                leaves = [hashlib.sha256(b"\x00" + row[1].encode("utf-8")).digest() for row in rows]
                stored_leaves = [bytes(row[2]) for row in rows]
                if leaves != stored_leaves:
                    _judge_leaves(start, leaves, stored_leaves, legacy, redactions, verdicts)
                self._grow(start, stored_leaves, edge)
        return edge

    def _check_decision(self) -> None:
        gap = self.gap
        decision = Entry.objects.filter(seq=gap.end).first()
        payload: Any = json.loads(decision.payload) if decision is not None else None
        lost = payload.get("lost") if isinstance(payload, dict) else None
        if (
            decision is None
            or decision.kind != rollback.ACCEPTED_KIND
            or lost != {"first": gap.start, "last": gap.end - 1, "count": gap.end - gap.start}
            or payload.get("frontier") != [h.hex() for h in gap.frontier]
        ):
            raise Broken(
                f"seq {gap.end}: no decision entry records the rollback that lost seq "
                f"{gap.start}..{gap.end - 1}",
                gap.end,
            )

    def _grow(self, start: int, leaves: list[bytes], edge: list[tuple[int, int, bytes]]) -> None:
        """Add the chunk's leaves to the right edge; check each subtree completed against the
        stored one, and note the root at each checkpoint size."""
        sha256 = hashlib.sha256
        made: dict[int, dict[int, bytes]] = {}
        for seq, leaf in enumerate(leaves, start):
            level, index, value = 0, seq, leaf
            while edge and edge[-1][0] == level:
                _level, _index, left = edge.pop()
                value, level, index = sha256(b"\x01" + left + value).digest(), level + 1, index >> 1
                made.setdefault(level, {})[index] = value
            edge.append((level, index, value))
            if seq + 1 in self.wanted:
                root = edge[-1][2]
                for _level, _index, left in reversed(edge[:-1]):
                    root = sha256(b"\x01" + left + root).digest()
                self.roots[seq + 1] = root
        for level, values in made.items():
            base = min(values)
            expect = _level_hashes(level, base, max(values) - base + 1)
            for index, value in values.items():
                if expect[index - base] != value:
                    _subtree_broken(level, index)


def verify_database() -> Verified:
    """Recompute every leaf and stored subtree, check every checkpoint and co-signature.

    Works a chunk of 2**14 entries at a time, level by level, with list comprehensions: the
    per-entry cost is then little more than formatting and hashing it.
    """
    # Subtrees above a chunk are few: keep them at hand. Those inside a chunk are read level by
    # level as the chunk is checked, already in order.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key, hash FROM {Node._meta.db_table} WHERE key >= %s",  # noqa: S608
            [CHUNK_LEVEL << LEVEL_SHIFT],
        )
        stored_nodes = {int(key): bytes(value) for key, value in cursor.fetchall()}
    # The head first: entries appended while verify runs are left to the next run.
    size = services.tree_size()
    # Entries lost in accepted rollbacks: the tree jumps over them, from each one's frontier.
    gaps = [gap for gap in rollback.gaps() if gap.end <= size]
    whole = gaps[0].start if gaps else size  # what the fast path below checks
    wanted_roots = sorted(Checkpoint.objects.values_list("size", flat=True))
    redactions = parts.redaction_entries(size)
    legacy = parts.legacy_redactions(size)
    verdicts = parts.Verdicts()
    roots: dict[int, bytes] = {}
    sha256 = hashlib.sha256
    edge: list[tuple[int, int, bytes]] = []  # completed subtrees on the right edge
    expected = 0
    for start, rows in _spelled_chunks(whole):
        n = min(CHUNK, whole - start)
        if len(rows) != n or rows[0][0] != start or rows[-1][0] != start + n - 1:
            present = {int(row[0]) for row in rows}
            gap = next(seq for seq in range(start, start + n) if seq not in present)
            raise Broken(f"seq {gap} is missing: the entry was removed", gap)
        leaves = [sha256(b"\x00" + row[1].encode("utf-8")).digest() for row in rows]
        stored = [bytes(row[2]) for row in rows]
        if leaves != stored:
            _judge_leaves(start, leaves, stored, legacy, redactions, verdicts)
        # Each entry is judged against its stored leaf above; the tree is built from the
        # stored leaves, so that it is checked against the stored subtrees and checkpoints
        # whatever befell single entries.
        levels = [stored]
        while len(levels[-1]) > 1:
            below, level = levels[-1], len(levels)
            parents = [
                sha256(b"\x01" + below[j] + below[j + 1]).digest()
                for j in range(0, len(below) - 1, 2)
            ]
            base = start >> level
            if level < CHUNK_LEVEL:
                if b"".join(parents) != _level_joined(level, base, len(parents)):
                    expect = _level_hashes(level, base, len(parents))
                    _subtree_broken(level, base + _first_difference(parents, expect), verdicts)
            else:
                expect = [
                    stored_nodes.get((level << LEVEL_SHIFT) | (base + j))
                    for j in range(len(parents))
                ]
                if parents != expect:
                    _subtree_broken(level, base + _first_difference(parents, expect), verdicts)
            levels.append(parents)
        # This chunk's perfect subtrees join the right edge, the largest (leftmost) first.
        for level in range(len(levels) - 1, -1, -1):
            if (n >> level) & 1:
                index, value = (start >> level) + len(levels[level]) - 1, levels[level][-1]
                while edge and edge[-1][0] == level:
                    _l, _i, left = edge.pop()
                    value, level, index = (
                        sha256(b"\x01" + left + value).digest(),
                        level + 1,
                        index >> 1,
                    )
                    if stored_nodes.get((level << LEVEL_SHIFT) | index) != value:
                        _subtree_broken(level, index, verdicts)
                edge.append((level, index, value))
        expected += n
        for wanted in (w for w in wanted_roots if start < w <= expected):
            roots[wanted] = merkle.range_hash(0, wanted, _chunk_reader(start, levels, stored_nodes))
    for number, lost in enumerate(gaps):
        stop = gaps[number + 1].start if number + 1 < len(gaps) else size
        checked = _GapCheck(lost, stop, set(wanted_roots), roots)
        edge = checked.run(edge, legacy, redactions, verdicts)
        expected = stop
    # Rows past the head cannot be committed appends (entries and head commit together), so
    # any are forged. Read the table before the head, so a concurrent append never counts.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(seq) FROM {Entry._meta.db_table}")  # noqa: S608
        (highest,) = cursor.fetchone()
    head = services.tree_size()
    if highest is not None and highest >= head:
        raise Broken(f"seq {head}: the table holds entries past the head ({head})", head)
    name, public_key = keys.origin(), keys.public_key()
    checkpoints = 0
    for checkpoint in Checkpoint.objects.order_by("size"):
        if expected < checkpoint.size <= head:
            continue  # made while verify ran: the next run checks it
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
    parts.check_parts(expected, redactions, verdicts)
    if verdicts.tampered:
        raise _tampered_broken(verdicts)
    return Verified(
        expected,
        checkpoints,
        cosignatures,
        verdicts.redacted_seqs(),
        [(lost.start, lost.end) for lost in gaps],
    )


def export(out: IO[str]) -> int:
    """Write the ledger as JSON lines: a header, then entries with checkpoints and
    co-signatures placed right after the entry that completes their tree. After an entry with
    a personal part comes a line with the part (salt and facts) or the marker of its
    redaction; after a scrubbed legacy entry, the marker that holds its original leaf hash."""
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
    written = tree = 0
    speller = _Speller()
    with_sides = parts.any_side_lines()
    gaps = {gap.start: gap for gap in rollback.gaps() if gap.end <= size}
    for start, rows in _chunks(_select(), size):
        side = parts.side_lines(start, start + CHUNK) if with_sides else {}
        for row in rows:
            gap = gaps.get(tree)
            if gap is not None:  # entries lost in an accepted rollback: the tree's frontier
                frontier = [base64.b64encode(h).decode() for h in gap.frontier]
                lost = {"start": gap.start, "end": gap.end, "frontier": frontier}
                out.write(json.dumps({"lost": lost}) + "\n")
                tree = gap.end
                position = _write_checkpoints(out, checkpoints, position, tree, cosignatures)
            out.write(speller.line(row) + "\n")
            if side and row[0] in side:
                out.write(json.dumps(side[row[0]], ensure_ascii=False, sort_keys=True) + "\n")
            written += 1
            tree += 1
            position = _write_checkpoints(out, checkpoints, position, tree, cosignatures)
    return written


def _write_checkpoints(
    out: IO[str],
    checkpoints: list[Checkpoint],
    position: int,
    tree: int,
    cosignatures: dict[int, list[Cosignature]],
) -> int:
    """The checkpoints of the tree size just reached, each with its co-signatures."""
    while position < len(checkpoints) and checkpoints[position].size == tree:
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
    return position

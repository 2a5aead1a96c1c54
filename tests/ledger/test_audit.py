"""Tampering the ledger, each way the issue names: ``verify`` and the standalone verifier
must catch it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from siaga.core.errors import InvalidInput
from siaga.ledger import audit, keys, merkle, note, services
from siaga.ledger.models import Checkpoint, Entry, Head, Node
from siaga.ledger.verify import Tampered, verify_export

pytestmark = pytest.mark.django_db


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def exported() -> list[str]:
    out = io.StringIO()
    audit.export(out)
    # JSON lines end at "\n" only; str.splitlines would also split at U+2028 inside strings.
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]]


def broken_at() -> audit.Broken:
    with pytest.raises(audit.Broken) as caught:
        audit.verify_database()
    return caught.value


def test_sound_ledger_verifies(signed: list[Checkpoint]) -> None:
    result = audit.verify_database()
    assert result.entries == services.tree_size()
    assert result.checkpoints == 2
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert out.getvalue().startswith(f"OK: {result.entries} entries, 2 checkpoints")


def test_checkpoint_is_a_signed_note_of_the_root(signed: list[Checkpoint]) -> None:
    checkpoint = signed[-1]
    parsed = note.verify(checkpoint.note, keys.origin(), keys.public_key())
    assert parsed.size == checkpoint.size == services.tree_size()
    assert parsed.root == bytes(checkpoint.root_hash) == services.root_hash(checkpoint.size)
    lines = checkpoint.note.split("\n")
    assert lines[0] == "siaga.local/ledger"
    assert lines[5].startswith("\u2014 siaga.local/ledger ")
    assert services.make_checkpoint() == checkpoint  # nothing new: the same checkpoint
    assert keys.key_path().stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("kind", "custody.dispatch"),
        ("actor", "someone.else"),
        ("unit", "Polres OKU"),
        ("region", "16.01"),
        ("subject_type", "sites.zone"),
        ("subject_id", "42"),
        ("payload", '{"n":999}'),
    ],
)
def test_changing_any_field_is_detected(signed: list[Checkpoint], column: str, value: str) -> None:
    seq = services.tree_size() - 5
    sql(f"UPDATE ledger_entry SET {column} = %s WHERE seq = %s", [value, seq])  # noqa: S608
    error = broken_at()
    assert error.seq == seq
    assert f"seq {seq}" in str(error)


def test_changing_the_time_or_id_is_detected(signed: list[Checkpoint]) -> None:
    seq = services.tree_size() - 3
    entry = Entry.objects.get(seq=seq)
    Entry.objects.filter(seq=seq).update(recorded_at=entry.recorded_at.replace(year=2020))
    assert broken_at().seq == seq
    Entry.objects.filter(seq=seq).update(recorded_at=entry.recorded_at)
    audit.verify_database()
    Entry.objects.filter(seq=seq).update(entry_id=uuid.uuid4())
    assert broken_at().seq == seq


def test_rewriting_fields_and_leaf_hash_together_is_detected(signed: list[Checkpoint]) -> None:
    seq = services.tree_size() - 4
    entry = Entry.objects.get(seq=seq)
    entry.kind = "custody.dispatch"
    Entry.objects.filter(seq=seq).update(
        kind=entry.kind, leaf_hash=merkle.leaf_hash(services.entry_bytes_fast(entry))
    )
    error = broken_at()
    assert error.seq is not None and error.seq <= seq
    assert "stored subtree" in str(error)


def test_deleting_an_entry_is_detected(signed: list[Checkpoint]) -> None:
    seq = services.tree_size() - 10
    Entry.objects.filter(seq=seq).delete()
    error = broken_at()
    assert error.seq == seq
    assert "missing" in str(error)


def test_swapping_two_entries_is_detected(signed: list[Checkpoint]) -> None:
    a, b = services.tree_size() - 8, services.tree_size() - 7
    first, second = Entry.objects.get(seq=a), Entry.objects.get(seq=b)
    # Swap everything but the sequence numbers, leaf hashes included.
    columns = ["entry_id", "kind", "subject_type", "subject_id", "payload", "leaf_hash"]
    Entry.objects.filter(seq=a).update(entry_id=uuid.uuid4())
    Entry.objects.filter(seq=b).update(**{c: getattr(first, c) for c in columns})
    Entry.objects.filter(seq=a).update(**{c: getattr(second, c) for c in columns})
    assert broken_at().seq == a


def test_a_fork_is_detected_by_verify_and_by_a_witnessed_checkpoint(
    signed: list[Checkpoint], grow: object
) -> None:
    witnessed = signed[-1]
    cut = witnessed.size - 6
    # Truncate the tail (entries and every subtree that covers them) and append different
    # entries: the stored tree is rebuilt cleanly, as a careful forger would.
    Entry.objects.filter(seq__gte=cut).delete()
    doomed = [n.key for n in Node.objects.all() if (n.index + 1) << n.level > cut]
    Node.objects.filter(key__in=doomed).delete()
    Head.objects.filter(pk=1).update(size=cut)
    grow(10)  # type: ignore[operator]
    error = broken_at()
    assert f"checkpoint at size {witnessed.size}" in str(error)
    # The witness's view: the new head does not extend the checkpoint it signed.
    Checkpoint.objects.all().delete()
    forged = services.make_checkpoint()
    assert forged is not None
    proof = services.consistency_proof(witnessed.size, forged.size)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(
            witnessed.size, forged.size, bytes(witnessed.root_hash), bytes(forged.root_hash), proof
        )


def test_checkpoint_with_a_bad_signature_is_detected(signed: list[Checkpoint]) -> None:
    checkpoint = signed[0]
    text = checkpoint.note.replace(f"\n{checkpoint.size}\n", f"\n{checkpoint.size + 1}\n")
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note=text)
    assert "does not verify" in str(broken_at())


def test_verify_command_exits_1_naming_the_seq(signed: list[Checkpoint]) -> None:
    seq = services.tree_size() - 2
    sql("UPDATE ledger_entry SET actor = 'x' WHERE seq = %s", [seq])
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ledger", "verify", stdout=out)
    assert caught.value.returncode == 1
    assert f"FAIL: seq {seq}:" in out.getvalue()


def test_export_verifies_with_the_standalone_verifier(signed: list[Checkpoint]) -> None:
    lines = exported()
    report = verify_export(lines, keys.instance_verifier_key())
    assert report.entries == services.tree_size()
    assert report.checkpoints == 2
    header = json.loads(lines[0])
    assert header["size"] == services.tree_size()


@pytest.mark.parametrize("edit", ["change", "delete", "swap", "reorder_checkpoint", "header"])
def test_export_edited_by_hand_fails(signed: list[Checkpoint], edit: str) -> None:
    lines = exported()
    target = next(i for i, line in enumerate(lines) if '"payload":{"n":3,' in line)
    if edit == "change":
        lines[target] = lines[target].replace('"n":3,', '"n":4,')
    elif edit == "delete":
        del lines[target]
    elif edit == "swap":
        lines[target], lines[target + 1] = lines[target + 1], lines[target]
    elif edit == "reorder_checkpoint":
        index = next(i for i, line in enumerate(lines) if line.startswith('{"checkpoint"'))
        lines.insert(index - 1, lines.pop(index))
    else:
        lines[0] = lines[0].replace('"size": ', '"size": 1')
    with pytest.raises(Tampered):
        verify_export(lines, keys.instance_verifier_key())


def test_export_with_a_foreign_key_fails(signed: list[Checkpoint]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = note.verifier_key(
        keys.origin(), note.public_bytes(Ed25519PrivateKey.generate().public_key())
    )
    with pytest.raises(Tampered):
        verify_export(exported(), stranger)


def test_kept_checkpoint_catches_a_fork_in_an_export(signed: list[Checkpoint]) -> None:
    kept = signed[0].note
    lines = exported()
    assert verify_export(lines, keys.instance_verifier_key(), kept).checkpoints == 2
    # A forged export that drops every checkpoint and changes an early entry.
    forged = [line for line in lines if not line.startswith(('{"checkpoint"', '{"cosig'))]
    first_entry = next(i for i, line in enumerate(forged) if line.startswith('{"actor"'))
    forged[first_entry] = forged[first_entry].replace('"kind":"', '"kind":"x')
    with pytest.raises(Tampered, match="kept checkpoint"):
        verify_export(forged, keys.instance_verifier_key(), kept)


def test_standalone_verifier_runs_without_django(signed: list[Checkpoint], tmp_path: Path) -> None:
    export_file = tmp_path / "ledger.jsonl"
    export_file.write_text("".join(exported()))
    key_file = tmp_path / "key.txt"
    key_file.write_text(keys.instance_verifier_key())
    kept = tmp_path / "kept.txt"
    kept.write_text(signed[0].note)
    code = (
        "import sys, runpy; sys.argv = ['verify', sys.argv[1], '--key', '@' + sys.argv[2],"
        " '--checkpoint', sys.argv[3]]\n"
        "try:\n    runpy.run_module('siaga.ledger.verify', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert 'django' not in sys.modules, 'the verifier imported Django'\n"
        "    raise\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(export_file), str(key_file), str(kept)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: {services.tree_size()} entries")
    export_file.write_text("".join(exported()).replace('"n":5', '"n":6', 1))
    result = subprocess.run(
        [sys.executable, "-m", "siaga.ledger.verify", str(export_file), "--key", f"@{key_file}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: entries ")


def test_checkpoint_is_due_after_the_period_when_entries_were_added(
    signed: list[Checkpoint], grow: Any
) -> None:
    from datetime import timedelta

    assert services.checkpoint_if_due(timedelta(0)) is None  # nothing new since the last
    grow(2)
    assert services.checkpoint_if_due(timedelta(hours=1)) is None  # too soon
    made = services.checkpoint_if_due(timedelta(0))
    assert made is not None and made.size == services.tree_size()


def test_every_n_entries_a_checkpoint_task_is_queued(
    grow: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.LEDGER_CHECKPOINT_EVERY = 5
    before = DBTaskResult.objects.filter(task_path__endswith="make_checkpoint_task").count()
    start = services.tree_size()
    with django_capture_on_commit_callbacks(execute=True):
        grow(12)
    queued = DBTaskResult.objects.filter(task_path__endswith="make_checkpoint_task").count()
    assert queued - before == (start + 12) // 5 - start // 5


AWKWARD = [
    'quote " backslash \\ slash /',
    "controls \x01\x08\x0c\n\r\t\x1f\x7f",
    "Bahasa: Pengamanan logistik — “kutip” ‘tunggal’ … é ñ ü",
    "emoji 🗳️📦 and U+2028\u2028 U+2029\u2029 BOM\ufeff",
    "",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_awkward_strings_are_spelled_alike_by_append_verify_and_export(text: str) -> None:
    """Appending, verifying and exporting each build an entry's canonical bytes; they must be
    the very bytes the appender hashed, whatever the strings hold."""
    short = text[:50]
    with transaction.atomic():
        entry = services.append(
            kind=f"k{short}",
            subject=(f"t{short}", f"id{short}"),
            payload={"text": text, text: [text]},
            actor=short,
            unit=text,
            region="16.08.01",
        )
    audit.verify_database()
    exported_line = next(line for line in exported() if f'"seq":{entry.seq},' in line)
    assert exported_line.rstrip("\n").encode() == services.entry_bytes_fast(entry)
    assert json.loads(exported_line) == entry.record()


def test_a_nul_character_is_refused_everywhere() -> None:
    """PostgreSQL cannot store U+0000 in text; SQLite could. Refuse it on both alike."""
    before = services.tree_size()
    for fields in ({"payload": {"x": "a\x00b"}}, {"actor": "a\x00b"}, {"kind": "k\x00"}):
        arguments: dict[str, Any] = {"kind": "k", "subject": ("t", "1"), **fields}
        with pytest.raises(InvalidInput) as caught, transaction.atomic():
            services.append(**arguments)
        assert caught.value.code == "ledger_text_invalid"
    assert services.tree_size() == before


def test_a_literal_backslash_u0000_is_not_a_nul() -> None:
    with transaction.atomic():
        entry = services.append(kind="k", subject=("t", "1"), payload={"x": "\\u0000"})
    assert json.loads(entry.payload) == {"x": "\\u0000"}


def test_a_field_longer_than_its_column_is_refused_everywhere() -> None:
    before = services.tree_size()
    with pytest.raises(InvalidInput) as caught, transaction.atomic():
        services.append(kind="k" * 61, subject=("t", "1"))
    assert caught.value.code == "ledger_text_invalid"
    assert caught.value.detail == {"field": "kind", "max_length": 60}
    assert services.tree_size() == before


def test_verify_across_chunks_with_checkpoints_anywhere() -> None:
    """verify works 2**14 entries at a time; roots and tampering beyond the first chunk too."""
    from siaga.ledger.services import Fact, append_many

    def grow_to(size: int) -> None:
        while services.tree_size() < size:
            batch = min(2000, size - services.tree_size())
            with transaction.atomic():
                append_many(
                    [Fact(kind="bulk", subject_type="t", subject_id=str(i)) for i in range(batch)],
                    returning=False,
                )

    for size in (16_384, 20_001, 32_768, 40_000):
        grow_to(size)
        services.make_checkpoint()
    result = audit.verify_database()
    assert (result.entries, result.checkpoints) == (40_000, 4)
    Entry.objects.filter(seq=35_000).update(subject_id="forged")
    assert broken_at().seq == 35_000


AWKWARD = [
    'quote " and backslash \\',
    "control \x01\x08\x0c\n\r\t\x1f and delete \x7f",
    "line separator \u2028 paragraph \u2029",
    "Gudang Logistik — Martapura, OKU Timur 🗳️",
    "</script><b>",
]


def test_the_database_spells_each_record_exactly_as_python_does(grow: Any) -> None:
    """verify's fast path lets the database spell records; it must agree with ``_Speller``
    byte for byte, awkward strings included, or verify would lean on its slow fallback."""
    grow(3)
    with transaction.atomic():
        for text in AWKWARD:
            services.append(
                kind="test.awkward",
                subject=(text, text),
                payload={"text": text},
                actor=text,
                unit=text,
                region="16.08",
            )
    size = services.tree_size()
    ((start, spelled),) = list(audit._spelled_chunks(size))
    with connection.cursor() as cursor:
        cursor.execute(audit._select(), [0, size])
        python = [audit._Speller().line(row) for row in cursor.fetchall()]
    assert start == 0
    assert [row[1] for row in spelled] == python
    assert [merkle.leaf_hash(line.encode()) for line in python] == [
        bytes(row[2]) for row in spelled
    ]
    assert audit.verify_database().entries == size


def test_a_record_the_database_spells_differently_falls_back_to_python(
    signed: list[Checkpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the database's JSON escaping ever to differ, verify re-spells the chunk in Python
    rather than cry tampering."""
    real = audit._spelled_chunks

    def misspelled(size: int) -> Any:
        for start, rows in real(size):
            yield start, [(seq, line.replace(":", ": ", 1), leaf) for seq, line, leaf in rows]

    monkeypatch.setattr(audit, "_spelled_chunks", misspelled)
    assert audit.verify_database().entries == services.tree_size()
    seq = services.tree_size() - 1
    sql("UPDATE ledger_entry SET kind = 'forged' WHERE seq = %s", [seq])
    assert broken_at().seq == seq


def test_an_entry_past_the_head_is_detected(signed: list[Checkpoint]) -> None:
    size = services.tree_size()
    last = Entry.objects.get(seq=size - 1)
    Entry.objects.create(
        seq=size,
        entry_id=uuid.uuid4(),
        recorded_at=last.recorded_at,
        kind=last.kind,
        subject_type=last.subject_type,
        subject_id=last.subject_id,
        payload=last.payload,
        leaf_hash=last.leaf_hash,
    )
    error = broken_at()
    assert error.seq == size
    assert "past the head" in str(error)

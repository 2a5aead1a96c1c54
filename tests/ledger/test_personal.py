"""The redactable personal part of an entry: committed by a salted hash, kept beside the chain,
erasable; both verifiers tell an untouched, a redacted and a tampered entry apart."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from siaga.core.errors import InvalidInput
from siaga.ledger import audit, keys, merkle, parts, services
from siaga.ledger.encoding import canonical_entry, canonical_json, entry_bytes
from siaga.ledger.models import Entry, PersonalPart
from siaga.ledger.verify import Report, Tampered, verify_export

pytestmark = pytest.mark.django_db

PERSON_A = "a" * 64
PERSON_B = "b" * 64


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def exported() -> list[str]:
    out = io.StringIO()
    audit.export(out)
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]]


def standalone() -> Report:
    return verify_export(exported(), keys.instance_verifier_key())


def standalone_fails() -> Tampered:
    with pytest.raises(Tampered) as caught:
        standalone()
    return caught.value


def broken_at() -> audit.Broken:
    with pytest.raises(audit.Broken) as caught:
        audit.verify_database()
    return caught.value


def visit(name: str, person: str = PERSON_A, n: int = 0) -> Entry:
    with transaction.atomic():
        return services.append(
            kind="access.visit.checked_in",
            subject=("access.visit", f"v{n}"),
            payload={"visit": f"v{n}", "zone": "Gudang A"},
            actor="jaga.okut",
            region="16.08.01",
            personal={"name": name, "nik_masked": "************0123", "organisation": "CV Maju"},
            person=person,
        )


def plain(n: int) -> list[Entry]:
    with transaction.atomic():
        return [
            services.append(
                kind="test.fact",
                subject=("test.thing", str(i)),
                payload={"n": i},
                actor="kpu.okut",
                region="16.08.01",
            )
            for i in range(n)
        ]


def test_the_record_commits_to_a_salted_hash_of_the_part_which_lies_beside_it() -> None:
    entry = visit("Budi Santoso")
    part = PersonalPart.objects.get(entry_id=entry.seq)
    salt = bytes(part.salt or b"")
    assert len(salt) == 16
    assert part.person == PERSON_A
    assert json.loads(part.data) == {
        "name": "Budi Santoso",
        "nik_masked": "************0123",
        "organisation": "CV Maju",
    }
    expected = hashlib.sha256(salt + canonical_json(json.loads(part.data))).hexdigest()
    stored = Entry.objects.get(seq=entry.seq)
    assert stored.personal_hash == expected == entry.personal_hash
    assert "Budi" not in stored.payload
    record = stored.record()
    assert record["personal_hash"] == expected
    assert bytes(stored.leaf_hash) == merkle.leaf_hash(entry_bytes(record))
    assert services.entry_bytes_fast(stored) == entry_bytes(record)
    assert b"Budi" not in entry_bytes(record)
    # Two entries with the same facts get different salts, so different hashes.
    other = visit("Budi Santoso", n=1)
    assert other.personal_hash != entry.personal_hash


def test_entries_without_a_part_keep_their_bytes_and_leaves() -> None:
    # The bytes of an entry without a part are those every earlier version wrote.
    spelled = canonical_entry(
        seq=7,
        id="0193a1b2-7c3d-7e4f-8a5b-0123456789ab",
        time="2026-11-28T14:36:05.955426Z",
        actor="kpu.okut",
        unit="KPU Kabupaten OKU Timur",
        region="16.08.01",
        kind="site.created",
        subject_type="sites.site",
        subject_id="3",
        payload='{"name":"Gudang"}',
    )
    assert spelled == (
        b'{"actor":"kpu.okut","id":"0193a1b2-7c3d-7e4f-8a5b-0123456789ab","kind":"site.created",'
        b'"payload":{"name":"Gudang"},"region":"16.08.01","seq":7,"subject_id":"3",'
        b'"subject_type":"sites.site","time":"2026-11-28T14:36:05.955426Z",'
        b'"unit":"KPU Kabupaten OKU Timur"}'
    )
    old = plain(5)
    first = services.make_checkpoint()
    assert first is not None
    leaves_before = {e.seq: bytes(e.leaf_hash) for e in old}
    visit("Siti")
    services.redact(person=PERSON_A, reason="test", actor="dpo.okut")
    services.make_checkpoint()
    for entry in Entry.objects.filter(seq__in=list(leaves_before)):
        assert entry.personal_hash is None
        assert "personal_hash" not in entry.record()
        assert bytes(entry.leaf_hash) == leaves_before[entry.seq]
        assert merkle.leaf_hash(services.entry_bytes_fast(entry)) == leaves_before[entry.seq]
    assert services.root_hash(first.size) == bytes(first.root_hash)
    result = audit.verify_database()
    assert result.checkpoints == 2
    report = verify_export(exported(), keys.instance_verifier_key(), first.note)
    assert report.checkpoints == 2


def test_an_untouched_a_redacted_and_a_tampered_entry_are_told_apart_by_both_verifiers() -> None:
    plain(3)
    untouched = visit("Ani", PERSON_A, 1)
    redacted = visit("Budi", PERSON_B, 2)
    tampered = visit("Citra", PERSON_A, 3)
    plain(2)
    assert services.redact(seqs=[redacted.seq], reason="hak penghapusan", actor="dpo.okut") == 1
    services.make_checkpoint()

    # Sound so far: the redacted entry is named as redacted, never as tampered.
    result = audit.verify_database()
    assert result.redacted == [redacted.seq]
    assert result.untouched == result.entries - 1
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert f"1 redacted (seq {redacted.seq}), 0 tampered" in out.getvalue()
    report = standalone()
    assert report.redacted == [redacted.seq]
    assert report.tampered == {}
    assert f"1 redacted (seq {redacted.seq}), 0 tampered" in report.summary()

    # The part's data changed in the database: tampered; the others keep their verdicts.
    PersonalPart.objects.filter(entry_id=tampered.seq).update(
        data=canonical_json({"name": "Dewi", "nik_masked": "************0123"}).decode()
    )
    error = broken_at()
    assert error.seq == tampered.seq
    assert error.tampered == {tampered.seq: parts.PART_MISMATCH}
    assert error.redacted == [redacted.seq]
    assert untouched.seq not in error.tampered
    failure = standalone_fails()
    assert failure.report is not None
    assert set(failure.report.tampered) == {tampered.seq}
    assert failure.report.redacted == [redacted.seq]
    assert str(failure).startswith(f"seq {tampered.seq}: its personal part does not match")


def test_a_tampered_payload_is_told_apart_from_a_redacted_part() -> None:
    entry = visit("Ani", PERSON_A, 1)
    redacted = visit("Budi", PERSON_B, 2)
    services.redact(person=PERSON_B, reason="retensi", actor="dpo.okut")
    services.make_checkpoint()
    sql("UPDATE ledger_entry SET payload = %s WHERE seq = %s", ['{"visit":"v9"}', entry.seq])
    error = broken_at()
    assert error.tampered == {entry.seq: parts.LEAF_MISMATCH}
    assert error.redacted == [redacted.seq]
    assert f"seq {entry.seq}: its fields do not match its leaf hash" in str(error)
    with pytest.raises(Tampered, match="do not match the signed checkpoint"):
        standalone()


def test_redact_by_person_erases_their_parts_only_and_writes_one_entry() -> None:
    mine = [visit("Ani", PERSON_A, 1), visit("Ani", PERSON_A, 2)]
    theirs = visit("Budi", PERSON_B, 3)
    size = services.tree_size()
    assert services.redact(person=PERSON_A, reason="hak penghapusan", actor="dpo.okut") == 2
    assert services.tree_size() == size + 1
    entry = Entry.objects.get(seq=size)
    assert entry.kind == "ledger.redacted"
    assert entry.actor == "dpo.okut"
    assert entry.region == "16.08.01"
    assert json.loads(entry.payload) == {
        "count": 2,
        "reason": "hak penghapusan",
        "seqs": [mine[0].seq, mine[1].seq],
    }
    assert PERSON_A not in entry.payload and "Ani" not in entry.payload
    for seq in (mine[0].seq, mine[1].seq):
        part = PersonalPart.objects.get(entry_id=seq)
        assert (part.salt, part.data, part.person) == (None, "", "")
        assert part.redacted_at == entry.recorded_at
        assert (part.redaction_reason, part.redacted_by, part.redaction_seq) == (
            "hak penghapusan",
            "dpo.okut",
            size,
        )
    kept = PersonalPart.objects.get(entry_id=theirs.seq)
    assert kept.redacted_at is None and "Budi" in kept.data
    # The entries and their leaves are as they were.
    for before in mine:
        after = Entry.objects.get(seq=before.seq)
        assert (after.payload, bytes(after.leaf_hash), after.personal_hash) == (
            before.payload,
            bytes(before.leaf_hash),
            before.personal_hash,
        )
    assert audit.verify_database().redacted == [mine[0].seq, mine[1].seq]
    assert standalone().redacted == [mine[0].seq, mine[1].seq]


def test_redact_by_seqs_and_twice_is_harmless() -> None:
    first, second = visit("Ani", PERSON_A, 1), visit("Budi", PERSON_B, 2)
    assert services.redact(seqs=[second.seq], reason="bocor", actor="dpo.okut") == 1
    size = services.tree_size()
    assert services.redact(seqs=[second.seq], reason="bocor", actor="dpo.okut") == 0
    assert services.redact(seqs=[first.seq], person=PERSON_B, reason="x", actor="dpo") == 0
    assert services.redact(seqs=[], reason="x", actor="dpo") == 0
    assert services.tree_size() == size  # nothing left to erase: no entry
    assert PersonalPart.objects.get(entry_id=first.seq).redacted_at is None
    assert PersonalPart.objects.filter(redacted_at__isnull=False).count() == 1


def test_redact_needs_a_target_and_a_reason_without_identifiers() -> None:
    entry = visit("Ani")
    size = services.tree_size()
    with pytest.raises(services.LedgerUsageError):
        services.redact(reason="x", actor="dpo")
    for reason, code in (
        ("  ", "redaction_reason_required"),
        ("NIK 3201234567890123", "redaction_reason_invalid"),
        ("x" * 301, "redaction_reason_invalid"),
    ):
        with pytest.raises(InvalidInput) as caught:
            services.redact(seqs=[entry.seq], reason=reason, actor="dpo")
        assert caught.value.code == code
    assert services.tree_size() == size
    assert PersonalPart.objects.get(entry_id=entry.seq).redacted_at is None


@pytest.mark.parametrize(
    "personal",
    [{"password": "x"}, {"name": "Ani", "otp": "123456"}, {"deep": [{"token": "abc"}]}],
)
def test_a_secret_is_refused_in_the_personal_part_too(personal: dict[str, Any]) -> None:
    size = services.tree_size()
    with pytest.raises(services.LedgerUsageError), transaction.atomic():
        services.append(kind="k", subject=("t", "1"), personal=personal, person=PERSON_A)
    assert services.tree_size() == size
    assert not PersonalPart.objects.exists()


def test_append_many_takes_parts_next_to_entries_without() -> None:
    facts = [
        services.Fact(kind="k", subject_type="t", subject_id=str(i), payload={"i": i})
        for i in range(4)
    ]
    facts[1].personal, facts[1].person = {"name": "Ani"}, PERSON_A
    facts[3].personal = {"name": "Budi"}
    with transaction.atomic():
        entries = services.append_many(facts)
    assert [e.personal_hash is not None for e in entries] == [False, True, False, True]
    assert sorted(PersonalPart.objects.values_list("entry_id", flat=True)) == [
        entries[1].seq,
        entries[3].seq,
    ]
    assert audit.verify_database().redacted == []
    assert standalone().tampered == {}


@pytest.mark.parametrize("how", ["erased_unrecorded", "deleted", "moved_into_payload", "orphan"])
def test_a_part_erased_or_removed_without_a_redaction_is_tampered(how: str) -> None:
    entry = visit("Ani")
    plain(2)
    services.make_checkpoint()
    if how == "erased_unrecorded":
        PersonalPart.objects.filter(entry_id=entry.seq).update(
            salt=None, data="", redacted_at=entry.recorded_at, redaction_reason="quiet"
        )
        why = parts.UNRECORDED_REDACTION
    elif how == "deleted":
        PersonalPart.objects.filter(entry_id=entry.seq).delete()
        why = parts.PART_REMOVED
    elif how == "moved_into_payload":
        # The record's bytes stay the same if the hash's text moves to the payload's end;
        # verify spells a payload that does not end as an object does as a string.
        PersonalPart.objects.filter(entry_id=entry.seq).delete()
        moved = entry.payload + ',"personal_hash":"' + str(entry.personal_hash) + '"'
        sql(
            "UPDATE ledger_entry SET payload = %s, personal_hash = NULL WHERE seq = %s",
            [moved, entry.seq],
        )
        why = parts.LEAF_MISMATCH
    else:
        other = plain(1)[0]
        PersonalPart.objects.create(entry_id=other.seq, salt=b"s" * 16, data="{}")
        entry = other
        why = parts.PART_WITHOUT_HASH
    assert broken_at().tampered == {entry.seq: why}
    if how != "moved_into_payload":
        failure = standalone_fails()
        assert failure.report is not None and set(failure.report.tampered) == {entry.seq}


def test_the_export_carries_each_part_or_its_redaction_marker() -> None:
    kept = visit("Ani", PERSON_A, 1)
    gone = visit("Budi", PERSON_B, 2)
    services.redact(person=PERSON_B, reason="retensi habis", actor="dpo.okut")
    lines = exported()
    assert json.loads(lines[0])["format"] == "siaga-ledger-export/2"
    at = next(
        i
        for i, line in enumerate(lines)
        if line.startswith('{"actor"') and f'"seq":{kept.seq},' in line
    )
    part = json.loads(lines[at + 1])["personal"]
    stored = PersonalPart.objects.get(entry_id=kept.seq)
    assert part == {
        "seq": kept.seq,
        "salt": bytes(stored.salt or b"").hex(),
        "data": json.loads(stored.data),
    }
    at = next(i for i, line in enumerate(lines) if f'"seq":{gone.seq},"subject' in line)
    marker = json.loads(lines[at + 1])["redacted"]
    redaction = Entry.objects.get(kind="ledger.redacted")
    assert marker == {
        "seq": gone.seq,
        "part": "personal",
        "at": redaction.time,
        "reason": "retensi habis",
        "by": redaction.seq,
    }
    assert "Budi" not in "".join(lines)
    # A hand-edited part in the export is caught, and so is a marker moved to another entry.
    edited = [line.replace('"Ani"', '"Ana"') for line in lines]
    with pytest.raises(Tampered, match=f"seq {kept.seq}: its personal part"):
        verify_export(edited, keys.instance_verifier_key())
    dropped = lines[: at + 1] + lines[at + 2 :]
    with pytest.raises(Tampered, match=f"seq {gone.seq}: its record holds a personal hash"):
        verify_export(dropped, keys.instance_verifier_key())

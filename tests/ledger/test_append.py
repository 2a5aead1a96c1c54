from __future__ import annotations

import json
import uuid

import pytest
from django.db import transaction

from siaga.core.errors import InvalidInput
from siaga.ledger import merkle, services
from siaga.ledger.encoding import entry_bytes
from siaga.ledger.models import Entry, Head, Node
from siaga.ledger.services import LedgerUsageError, append

pytestmark = pytest.mark.django_db


def add(n: int, kind: str = "test.fact") -> list[Entry]:
    with transaction.atomic():
        return [
            append(kind=kind, subject=("test.thing", str(i)), payload={"n": i, "teks": "é"})
            for i in range(n)
        ]


def start_size() -> int:
    return Head.objects.get(pk=1).size


def test_sequence_is_gapless_and_the_tree_is_stored() -> None:
    base = start_size()
    entries = add(37)
    assert [e.seq for e in entries] == list(range(base, base + 37))
    assert start_size() == base + 37
    leaves = [bytes(e.leaf_hash) for e in Entry.objects.order_by("seq")]
    assert services.root_hash(base + 37) == merkle.root_of(leaves)
    for entry in entries:
        assert bytes(entry.leaf_hash) == merkle.leaf_hash(entry_bytes(entry.record()))


def test_fast_encoding_equals_canonical_json() -> None:
    entry = add(1)[0]
    entry.refresh_from_db()
    record = entry.record()
    assert services.entry_bytes_fast(entry) == entry_bytes(record)
    assert json.loads(entry_bytes(record)) == record
    assert b" " not in entry_bytes(record).replace(b'"teks":"\xc3\xa9"', b"")


def test_same_client_id_returns_the_first_entry() -> None:
    client_id = uuid.uuid4()
    with transaction.atomic():
        first = append(kind="a.b", subject=("t", "1"), payload={"x": 1}, id=client_id)
        again = append(kind="a.b", subject=("t", "1"), payload={"x": 2}, id=client_id)
    assert again.seq == first.seq
    assert Entry.objects.filter(entry_id=client_id).count() == 1
    assert json.loads(Entry.objects.get(entry_id=client_id).payload) == {"x": 1}


def test_rolled_back_change_leaves_no_entry() -> None:
    base = start_size()
    with pytest.raises(RuntimeError), transaction.atomic():
        append(kind="a.b", subject=("t", "1"))
        raise RuntimeError("the domain change failed")
    assert start_size() == base
    assert Entry.objects.filter(seq__gte=base).count() == 0


@pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": float("inf")}, {"x": object()}])
def test_payload_without_canonical_json_is_refused(payload: dict[str, object]) -> None:
    base = start_size()
    with pytest.raises(InvalidInput) as caught, transaction.atomic():
        append(kind="a.b", subject=("t", "1"), payload=payload)
    assert caught.value.code == "ledger_payload_invalid"
    assert start_size() == base


def test_proofs_read_few_stored_hashes(django_assert_max_num_queries: object) -> None:
    base = start_size()
    add(100)
    size = base + 100
    root = services.root_hash(size)
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        proof = services.inclusion_proof(base + 41, size)
    leaf = bytes(Entry.objects.get(seq=base + 41).leaf_hash)
    merkle.verify_inclusion(base + 41, size, leaf, proof, root)
    first_root = services.root_hash(base + 10)
    consistency = services.consistency_proof(base + 10, size)
    merkle.verify_consistency(base + 10, size, first_root, root, consistency)
    assert Node.objects.count() < size


def test_bad_proof_requests_have_codes() -> None:
    add(3)
    size = start_size()
    for call, code in [
        (lambda: services.inclusion_proof(size, size), "proof_index_out_of_range"),
        (lambda: services.inclusion_proof(0, size + 1), "tree_size_invalid"),
        (lambda: services.consistency_proof(size, size - 1), "proof_sizes_invalid"),
        (lambda: services.consistency_proof(0, 0), "tree_size_invalid"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.code == code


@pytest.fixture
def head() -> None:
    """Transactional tests flush the database, migrations' rows included: put the head back."""
    Head.objects.get_or_create(pk=1, defaults={"size": 0})


@pytest.mark.django_db(transaction=True)
def test_append_refuses_to_run_outside_a_transaction(head: None) -> None:
    before = Entry.objects.count()
    with pytest.raises(LedgerUsageError):
        append(kind="a.b", subject=("t", "1"))
    assert Entry.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_leave_no_gap_and_no_duplicate(head: None) -> None:
    import threading

    from django.db import connections

    errors: list[BaseException] = []
    base = start_size()

    def work(worker: int) -> None:
        try:
            for n in range(25):
                with transaction.atomic():
                    append(kind="race", subject=("t", f"{worker}-{n}"), payload={"w": worker})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()  # the thread ends: close, not just tidy

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    seqs = list(Entry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(base + 100))
    assert Head.objects.get(pk=1).size == base + 100
    leaves = [bytes(h) for h in Entry.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert services.root_hash(base + 100) == merkle.root_of(leaves)
    raced = Entry.objects.filter(kind="race").values_list("subject_id", flat=True)
    assert len(set(raced)) == 100

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from siaga.accounts.models import User
from siaga.ledger import keys, merkle, note, services
from siaga.ledger.models import Checkpoint, Cosignature, Entry, WitnessKey
from siaga.ledger.witness import Refused, witness_checkpoint, witness_vkey

pytestmark = pytest.mark.django_db


def b64d(value: str) -> bytes:
    return base64.b64decode(value)


def test_key_and_checkpoint_are_public(client: Client, signed: list[Checkpoint]) -> None:
    key = client.get("/api/v1/ledger/key").json()
    assert key["verifier_key"] == keys.instance_verifier_key()
    body = client.get("/api/v1/ledger/checkpoint").json()
    assert body["tree_size"] == signed[-1].size
    assert b64d(body["root_hash"]) == bytes(signed[-1].root_hash)
    assert note.verify(body["note"], keys.origin(), keys.public_key()).size == body["tree_size"]
    assert body["cosignatures"] == []


def test_no_checkpoint_yet_is_404(client: Client) -> None:
    Checkpoint.objects.all().delete()
    response = client.get("/api/v1/ledger/checkpoint")
    assert response.status_code == 404
    assert response.json()["code"] == "checkpoint_not_found"


def test_entries_are_scoped_to_the_region(
    client_for: Any, grow: Any, operator_okut: User, kpu_oku: User
) -> None:
    grow(3)
    grow(2, region="16.01.14")
    size = services.tree_size()
    own = client_for(operator_okut).get(f"/api/v1/ledger/entries?start=0&end={size}").json()
    other = client_for(kpu_oku).get(f"/api/v1/ledger/entries?start=0&end={size}").json()
    assert {e["region"][:5] for e in own} == {"16.08"}
    assert {e["region"][:5] for e in other} == {"16.01"}
    assert len([e for e in other if e["kind"] == "test.fact"]) == 2
    by_kind = client_for(operator_okut).get("/api/v1/ledger/entries?kind=test.fact").json()
    assert [e["payload"]["n"] for e in by_kind] == [0, 1, 2]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("start=10&end=5", "entry_range_invalid"),
        ("start=0&end=5000", "entry_range_invalid"),
        ("start=-1", "validation_error"),
        ("start=abc", "validation_error"),
    ],
)
def test_bad_entry_ranges(client_for: Any, operator_okut: User, query: str, code: str) -> None:
    response = client_for(operator_okut).get(f"/api/v1/ledger/entries?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_inclusion_proof_verifies(client_for: Any, grow: Any, operator_okut: User) -> None:
    entry = grow(5)[2]
    size = services.tree_size()
    body = (
        client_for(operator_okut)
        .get(f"/api/v1/ledger/proof/inclusion?index={entry.seq}&tree_size={size}")
        .json()
    )
    merkle.verify_inclusion(
        entry.seq,
        size,
        b64d(body["leaf_hash"]),
        [b64d(p) for p in body["proof"]],
        b64d(body["root_hash"]),
    )
    assert b64d(body["leaf_hash"]) == bytes(Entry.objects.get(seq=entry.seq).leaf_hash)


def test_inclusion_proof_of_another_region_is_404(
    client_for: Any, grow: Any, kpu_oku: User
) -> None:
    entry = grow(1)[0]
    response = client_for(kpu_oku).get(
        f"/api/v1/ledger/proof/inclusion?index={entry.seq}&tree_size={services.tree_size()}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "entry_not_found"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("proof/inclusion?index=0&tree_size=999999", "tree_size_invalid"),
        ("proof/inclusion?index=999999&tree_size=1", "proof_index_out_of_range"),
        ("proof/inclusion?index=x&tree_size=1", "validation_error"),
        ("proof/consistency?first=5&second=2", "proof_sizes_invalid"),
        ("proof/consistency?first=1&second=999999", "tree_size_invalid"),
        ("proof/consistency?first=0&second=0", "tree_size_invalid"),
    ],
)
def test_bad_proof_requests(
    client_for: Any, grow: Any, operator_okut: User, path: str, code: str
) -> None:
    grow(6)
    response = client_for(operator_okut).get(f"/api/v1/ledger/{path}")
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_proofs_need_sign_in(client: Client) -> None:
    response = client.get("/api/v1/ledger/proof/consistency?first=1&second=2")
    assert response.status_code == 401


def register(client: Client, name: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    response = client.post(
        "/api/v1/ledger/witness-keys",
        {"verifier_key": witness_vkey(name, key)},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return key


def cosign(client: Client, checkpoint: Checkpoint, line: str) -> Any:
    return client.post(
        "/api/v1/ledger/cosignatures",
        {"tree_size": checkpoint.size, "signature_line": line},
        content_type="application/json",
    )


def test_bawaslu_witnesses_checkpoints_in_order(
    client_for: Any, signed: list[Checkpoint], bawaslu_okut: User, grow: Any
) -> None:
    client = client_for(bawaslu_okut)
    key = register(client, "bawaslu-okut-1")
    first, second = signed
    vkey = keys.instance_verifier_key()
    line = witness_checkpoint(
        new_note=first.note,
        previous_note=None,
        consistency=[],
        instance_vkey=vkey,
        key=key,
        name="bawaslu-okut-1",
        timestamp=1_800_000_000,
    )
    assert cosign(client, first, line).status_code == 201
    proof = services.consistency_proof(first.size, second.size)
    line = witness_checkpoint(
        new_note=second.note,
        previous_note=first.note,
        consistency=proof,
        instance_vkey=vkey,
        key=key,
        name="bawaslu-okut-1",
        timestamp=1_800_000_100,
    )
    response = cosign(client, second, line)
    assert response.status_code == 201
    assert response.json()["holder"] == "bawaslu.okut"
    latest = client.get("/api/v1/ledger/checkpoint").json()
    assert [c["witness"] for c in latest["cosignatures"]] == ["bawaslu-okut-1"]
    # Going back to an older checkpoint is refused.
    old = witness_checkpoint(
        new_note=first.note,
        previous_note=None,
        consistency=[],
        instance_vkey=vkey,
        key=key,
        name="bawaslu-okut-1",
        timestamp=1_800_000_200,
    )
    before = Cosignature.objects.count()
    response = cosign(client, first, old)
    assert response.status_code == 409
    assert response.json()["code"] == "cosignature_older_than_last"
    assert Cosignature.objects.count() == before


def test_witness_refuses_a_forked_checkpoint(signed: list[Checkpoint]) -> None:
    first, second = signed
    key = Ed25519PrivateKey.generate()
    wrong_proof = [bytes(32)] * len(services.consistency_proof(first.size, second.size))
    with pytest.raises(Refused, match="does not extend"):
        witness_checkpoint(
            new_note=second.note,
            previous_note=first.note,
            consistency=wrong_proof,
            instance_vkey=keys.instance_verifier_key(),
            key=key,
            name="w",
            timestamp=1,
        )
    forged = second.note.replace("\ntime ", "\ntime 1")
    with pytest.raises(Refused, match="signature"):
        witness_checkpoint(
            new_note=forged,
            previous_note=None,
            consistency=[],
            instance_vkey=keys.instance_verifier_key(),
            key=key,
            name="w",
            timestamp=1,
        )


def test_only_bawaslu_registers_witness_keys(
    client_for: Any, operator_okut: User, kapolres_okut: User
) -> None:
    for user in (operator_okut, kapolres_okut):
        response = client_for(user).post(
            "/api/v1/ledger/witness-keys",
            {"verifier_key": witness_vkey("w", Ed25519PrivateKey.generate())},
            content_type="application/json",
        )
        assert response.status_code == 403
    assert WitnessKey.objects.count() == 0


@pytest.mark.parametrize(
    "vkey",
    [
        "nonsense",
        "a+b+c",
        note.verifier_key("w", bytes(32)),  # type 0x01 is not a witness key
        "w+00000000+" + base64.b64encode(b"\x04" + bytes(32)).decode(),
    ],
)
def test_malformed_witness_keys_are_refused(client_for: Any, bawaslu_okut: User, vkey: str) -> None:
    response = client_for(bawaslu_okut).post(
        "/api/v1/ledger/witness-keys", {"verifier_key": vkey}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "witness_key_invalid"
    assert WitnessKey.objects.count() == 0


def test_bad_cosignatures_are_refused(
    client_for: Any, signed: list[Checkpoint], bawaslu_okut: User
) -> None:
    client = client_for(bawaslu_okut)
    key = register(client, "bawaslu-okut-2")
    first = signed[0]
    good = note.cosign(note.parse(first.note)[0], "bawaslu-okut-2", key, 1_800_000_000).line()
    stranger = note.cosign(
        note.parse(first.note)[0], "bawaslu-okut-2", Ed25519PrivateKey.generate(), 1_800_000_000
    ).line()
    cases = [
        (stranger, 422, "cosignature_invalid"),
        ("— garbage", 422, "cosignature_invalid"),
        (good.replace("bawaslu-okut-2", "someone-else"), 403, "witness_key_unknown"),
    ]
    for line, status, code in cases:
        response = cosign(client, first, line)
        assert (response.status_code, response.json()["code"]) == (status, code), line
    missing = client.post(
        "/api/v1/ledger/cosignatures",
        {"tree_size": 99999, "signature_line": good},
        content_type="application/json",
    )
    assert missing.status_code == 404
    assert Cosignature.objects.count() == 0

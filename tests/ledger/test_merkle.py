from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.ledger import merkle
from siaga.ledger.merkle import ProofError


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, as written in the RFC."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.largest_power_of_two_below(len(hashes))
    return merkle.node_hash(mth(hashes[:k]), mth(hashes[k:]))


def reader(hashes: list[bytes]) -> merkle.NodeReader:
    def read(key: merkle.NodeKey) -> bytes:
        level, index = key
        width = 1 << level
        chunk = hashes[index * width : (index + 1) * width]
        assert len(chunk) == width, f"asked for an incomplete subtree {key}"
        return mth(chunk)

    return read


def test_rfc_leaf_and_node_prefixes() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.root_of([]) == hashlib.sha256(b"").digest()


@given(st.integers(min_value=0, max_value=300))
def test_bottom_up_root_equals_recursive_definition(n: int) -> None:
    hashes = leaves(n)
    assert merkle.root_of(hashes) == mth(hashes)


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_inclusion_proofs_verify_and_use_few_nodes(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    root = mth(hashes)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.inclusion_proof(index, n, reader(hashes))
    merkle.verify_inclusion(index, n, hashes[index], proof, root)
    assert len(merkle.inclusion_proof_keys(index, n)) <= 2 * max(1, n.bit_length())
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, n, merkle.leaf_hash(b"forged"), proof, root)
    if proof:
        broken = [*proof[:-1], bytes(32)]
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, n, hashes[index], broken, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, n, hashes[index], proof[:-1], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, n, hashes[index], [*proof, bytes(32)], root)


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_consistency_proofs_verify(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    m = data.draw(st.integers(min_value=0, max_value=n))
    proof = merkle.consistency_proof(m, n, reader(hashes))
    merkle.verify_consistency(m, n, mth(hashes[:m]), mth(hashes), proof)
    assert len(merkle.consistency_proof_keys(m, n)) <= 2 * max(1, n.bit_length())
    if 0 < m < n:
        with pytest.raises(ProofError):
            merkle.verify_consistency(m, n, merkle.leaf_hash(b"x"), mth(hashes), proof)
        with pytest.raises(ProofError):
            merkle.verify_consistency(m, n, mth(hashes[:m]), merkle.leaf_hash(b"x"), proof)


@settings(max_examples=200)
@given(st.integers(min_value=2, max_value=120), st.data())
def test_a_fork_fails_the_consistency_proof(n: int, data: st.DataObject) -> None:
    """Truncate the tail and append different entries: the new tree does not extend the old."""
    hashes = leaves(n)
    cut = data.draw(st.integers(min_value=1, max_value=n - 1))
    m = data.draw(st.integers(min_value=cut + 1, max_value=n))
    forked = hashes[:cut] + [merkle.leaf_hash(f"fork {i}".encode()) for i in range(cut, n)]
    proof = merkle.consistency_proof(m, n, reader(forked))
    with pytest.raises(ProofError):
        merkle.verify_consistency(m, n, mth(hashes[:m]), mth(forked), proof)


def test_perfect_nodes_after_append_builds_the_stored_tree() -> None:
    stored: dict[merkle.NodeKey, bytes] = {}
    hashes = leaves(37)
    for size, leaf in enumerate(hashes):
        for key, value in merkle.perfect_nodes_after_append(size, leaf, stored.__getitem__):
            stored[key] = value
    assert stored[(5, 0)] == mth(hashes[:32])
    assert stored[(2, 8)] == mth(hashes[32:36])
    assert merkle.range_hash(0, 37, stored.__getitem__) == mth(hashes)
    assert len(stored) == 37 + 18 + 9 + 4 + 2 + 1


def test_bad_proof_requests_are_refused() -> None:
    with pytest.raises(ProofError):
        merkle.inclusion_proof(5, 5, reader(leaves(5)))
    with pytest.raises(ProofError):
        merkle.consistency_proof(6, 5, reader(leaves(5)))
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 3, b"a", b"b", [])

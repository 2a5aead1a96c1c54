"""Merkle trees as in RFC 9162 (Certificate Transparency 2.0), section 2.1.

Pure Python with no Django import, so the standalone verifier can use it on an auditor's
laptop. Proof generation takes a function that returns the hash of a *perfect* subtree
(2^level leaves starting at index * 2^level); the ledger answers it from stored hashes, so a
proof reads O(log n) of them and never the whole log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

# (level, index) -> hash of leaves [index * 2**level, (index + 1) * 2**level)
NodeKey = tuple[int, int]
NodeReader = Callable[[NodeKey], bytes]


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, computed bottom-up in O(n); equal to the recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    # Fold perfect subtrees as they complete, then join the remainders right to left.
    stack: list[tuple[int, bytes]] = []  # (size, hash)
    for leaf in leaves:
        size, value = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, value = left_size + size, node_hash(left, value)
        stack.append((size, value))
    value = stack[-1][1]
    for _size, left in reversed(stack[:-1]):
        value = node_hash(left, value)
    return value


def subtree_keys(start: int, size: int) -> list[NodeKey]:
    """The perfect subtrees whose hashes make MTH(D[start:start+size]).

    ``start`` is aligned as RFC 9162's recursion aligns it; at most 2·log2(size) keys.
    """
    keys: list[NodeKey] = []
    while size > 0:
        if size & (size - 1) == 0 and start % size == 0:
            keys.append((size.bit_length() - 1, start // size))
            return keys
        k = largest_power_of_two_below(size)
        keys.append(((k.bit_length() - 1), start // k))
        start, size = start + k, size - k
    return keys


def range_hash(start: int, size: int, read: NodeReader) -> bytes:
    """MTH(D[start:start+size]) from stored perfect subtrees."""
    keys = subtree_keys(start, size)
    value = read(keys[-1])
    for key in reversed(keys[:-1]):
        value = node_hash(read(key), value)
    return value


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The (start, size) ranges whose hashes form PATH(index, D[0:size]), leaf to root."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while size > 1:
        k = largest_power_of_two_below(size)
        if index < k:
            ranges.append((start + k, size - k))
            size = k
        else:
            ranges.append((start, k))
            start, index, size = start + k, index - k, size - k
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The (start, size) ranges whose hashes form PROOF(first, D[0:second])."""
    ranges: list[tuple[int, int]] = []
    start, m, n, complete = 0, first, second, True
    while m != n:
        k = largest_power_of_two_below(n)
        if m <= k:
            ranges.append((start + k, n - k))
            n = k
        else:
            ranges.append((start, k))
            start, m, n, complete = start + k, m - k, n - k, False
    if not complete:
        ranges.append((start, m))
    ranges.reverse()
    return ranges


def keys_for(ranges: Iterable[tuple[int, int]]) -> set[NodeKey]:
    return {key for start, size in ranges for key in subtree_keys(start, size)}


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    return [range_hash(s, n, read) for s, n in _inclusion_ranges(index, size)]


def inclusion_proof_keys(index: int, size: int) -> set[NodeKey]:
    return keys_for(_inclusion_ranges(index, size))


def consistency_proof(first: int, second: int, read: NodeReader) -> list[bytes]:
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []
    return [range_hash(s, n, read) for s, n in _consistency_ranges(first, second)]


def consistency_proof_keys(first: int, second: int) -> set[NodeKey]:
    if first == 0 or first == second:
        return set()
    return keys_for(_consistency_ranges(first, second))


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2. Raises ``ProofError`` unless ``leaf`` is at ``index`` under ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    fn, sn, value = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if value != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2. Raises ``ProofError`` unless the second tree extends the first."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {second} cannot extend one of {first}")
    if first == second:
        if proof:
            raise ProofError("proof between equal trees must be empty")
        if first_root != second_root:
            raise ProofError("equal tree sizes with different roots: the log forked")
        return
    if first == 0:
        if proof:
            raise ProofError("proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_value = second_value = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            first_value = node_hash(node, first_value)
            second_value = node_hash(node, second_value)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second_value = node_hash(second_value, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if first_value != first_root:
        raise ProofError("consistency proof does not lead to the first root")
    if second_value != second_root:
        raise ProofError("consistency proof does not lead to the second root")


def right_edge(size: int) -> list[NodeKey]:
    """The perfect subtrees that tile a tree of ``size`` leaves, largest first: all that
    appending to it will read."""
    return [
        (level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if (size >> level) & 1
    ]


def perfect_nodes_after_append(
    size: int, leaf: bytes, read: NodeReader
) -> list[tuple[NodeKey, bytes]]:
    """The perfect subtrees that become complete when leaf number ``size`` is appended."""
    nodes: list[tuple[NodeKey, bytes]] = [((0, size), leaf)]
    level, index, value = 0, size, leaf
    while index & 1:
        value = node_hash(read((level, index - 1)), value)
        level, index = level + 1, index >> 1
        nodes.append(((level, index), value))
    return nodes

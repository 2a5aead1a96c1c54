"""Inclusion proofs in a ledger of millions of entries: time per proof and rows read.

Building millions of entries through ``append`` would take an hour, so this fills the tables
directly with the same rows ``append`` writes (real leaf hashes of real canonical records and
every stored subtree), then asks the service for proofs and checks each one.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
import uuid


def fill(n: int) -> None:
    from django.db import connection, transaction

    from siaga.ledger.encoding import canonical_entry
    from siaga.ledger.models import Entry, Head, Node, node_key
    from siaga.ledger.services import _INSERT_ENTRY, _INSERT_NODE, insert_rows

    prep_id = Entry._meta.get_field("entry_id").get_db_prep_value
    prep_time = Entry._meta.get_field("recorded_at").get_db_prep_value
    from django.utils import timezone

    now = timezone.now()
    recorded = prep_time(now, connection)
    time_text = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sha256 = hashlib.sha256
    base = uuid.uuid4().int & ~((1 << 64) - 1)
    stack: list[tuple[int, int, bytes]] = []
    batch = 50_000
    began = time.perf_counter()
    for first in range(0, n, batch):
        entries = []
        nodes = []
        for seq in range(first, min(n, first + batch)):
            entry_id = uuid.UUID(int=base | seq)
            payload = f'{{"n":{seq}}}'
            leaf = sha256(
                b"\x00"
                + canonical_entry(
                    seq=seq,
                    id=str(entry_id),
                    time=time_text,
                    actor="bench",
                    unit="bench",
                    region="16.08.01",
                    kind="bench.fill",
                    subject_type="bench",
                    subject_id=str(seq),
                    payload=payload,
                )
            ).digest()
            entries.append(
                (
                    seq,
                    prep_id(entry_id, connection),
                    recorded,
                    "bench",
                    "bench",
                    "16.08.01",
                    "bench.fill",
                    "bench",
                    str(seq),
                    payload,
                    leaf,
                )
            )
            level, index, value = 0, seq, leaf
            while stack and stack[-1][0] == level:
                value = sha256(b"\x01" + stack.pop()[2] + value).digest()
                level, index = level + 1, index >> 1
                nodes.append((node_key(level, index), value))
            stack.append((level, index, value))
        with transaction.atomic(), connection.cursor() as cursor:
            insert_rows(cursor, _INSERT_ENTRY, entries)
            insert_rows(cursor, _INSERT_NODE, nodes)
        done = min(n, first + batch)
        if done % 1_000_000 == 0 or done == n:
            print(f"  filled {done:,} entries ({time.perf_counter() - began:.0f} s)", flush=True)
    Head.objects.filter(pk=1).update(size=n)
    assert Node.objects.count() > 0


def bench_proof(n: int, proofs: int = 200, *, reuse: bool = False) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from ledger import reset
    from siaga.ledger import merkle, services
    from siaga.ledger.models import Entry

    print(f"[{connection.vendor}] inclusion proofs in a ledger of {n:,} entries:")
    if reuse and services.tree_size() == n:
        print("  reusing the ledger already filled to this size")
    else:
        reset()
        fill(n)
    root = services.root_hash(n)
    rng = random.Random(7)
    timings = []
    rows_read = []
    for _ in range(proofs):
        index = rng.randrange(n)
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            proof = services.inclusion_proof(index, n)
            timings.append(time.perf_counter() - began)
        rows_read.append(len(merkle.inclusion_proof_keys(index, n)))
        leaf = bytes(Entry.objects.values_list("leaf_hash", flat=True).get(seq=index))
        merkle.verify_inclusion(index, n, leaf, proof, root)
        assert len(queries) <= 3, len(queries)
        reset_queries()
    median = statistics.median(timings) * 1000
    p95 = sorted(timings)[int(len(timings) * 0.95)] * 1000
    print(
        f"  {proofs} proofs, each verified: median {median:.2f} ms, p95 {p95:.2f} ms "
        f"(target < 5 ms): {'met' if p95 < 5 else 'MISSED'}"
    )
    print(
        f"  stored hashes read per proof: max {max(rows_read)} "
        f"(log2 n = {n.bit_length() - 1}), in at most 2 queries"
    )

"""A database put back to an older copy cannot hide: the checkpoint kept outside it under
SIAGA_HOME catches it, writes are refused until an admin decides, and the decision continues
the witnessed tree. On SQLite and PostgreSQL alike; the copy put back is the rows written
since deleted, as restoring a copy leaves them (``test_rollback_process`` copies a real SQLite
file between real processes)."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.incidents.models import Incident
from siaga.ledger import audit, checkpoint_file, keys, merkle, rollback, services, witness
from siaga.ledger.models import (
    LEVEL_SHIFT,
    Checkpoint,
    Cosignature,
    Entry,
    Head,
    Node,
    Rollback,
)
from siaga.ledger.verify import Tampered, verify_export
from tests.conftest import World

# Committed for real: the kept file is written only after a true commit, never inside a test's
# transaction (which rolls back). The tables are emptied after each test, the world rebuilt.
pytestmark = pytest.mark.django_db(transaction=True)

Grow = Callable[..., list[Entry]]
WITNESS = "bawaslu-okut-1"


@pytest.fixture(autouse=True)
def home(settings: Any, tmp_path: Path) -> Path:
    """Each test its own SIAGA_HOME: its own signing key and kept checkpoint."""
    settings.SIAGA_HOME = tmp_path
    return tmp_path


@pytest.fixture
def commit(world: World) -> Callable[[], Checkpoint]:
    """Sign a checkpoint; the kept file is written once it commits."""

    def sign() -> Checkpoint:
        checkpoint = services.make_checkpoint()
        assert checkpoint is not None
        return checkpoint

    return sign


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def put_back(size: int) -> None:
    """What restoring a copy of the database taken at ``size`` entries leaves: every ledger
    row written since gone, the head at ``size``."""
    sql(
        "DELETE FROM ledger_cosignature WHERE checkpoint_id IN "
        "(SELECT id FROM ledger_checkpoint WHERE size > %s)",
        [size],
    )
    sql("DELETE FROM ledger_checkpoint WHERE size > %s", [size])
    sql("DELETE FROM ledger_personalpart WHERE seq >= %s", [size])
    sql("DELETE FROM ledger_entry WHERE seq >= %s", [size])
    later = [
        key
        for key in Node.objects.values_list("key", flat=True)
        if ((key & ((1 << LEVEL_SHIFT) - 1)) + 1) << (key >> LEVEL_SHIFT) > size
    ]
    Node.objects.filter(key__in=later).delete()
    sql("UPDATE ledger_head SET size = %s", [size])


def exported() -> list[str]:
    out = io.StringIO()
    audit.export(out)
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]]


def verify_output() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def register(client: Client) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    response = client.post(
        "/api/v1/ledger/witness-keys",
        {"verifier_key": witness.witness_vkey(WITNESS, key)},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return key


def cosign(
    client: Client, key: Ed25519PrivateKey, checkpoint: Checkpoint, previous: Checkpoint | None
) -> str:
    """Witness ``checkpoint`` as the witness tool does, and send the co-signature."""
    proof = services.consistency_proof(previous.size, checkpoint.size) if previous else []
    line = witness.witness_checkpoint(
        new_note=checkpoint.note,
        previous_note=previous.note if previous else None,
        consistency=proof,
        instance_vkey=keys.instance_verifier_key(),
        key=key,
        name=WITNESS,
        timestamp=1_800_000_000 + checkpoint.size,
    )
    response = client.post(
        "/api/v1/ledger/cosignatures",
        {"tree_size": checkpoint.size, "signature_line": line},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return line


def report(world: World) -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()),
        "category": "banjir",
        "severity": "2",
        "site": str(world.warehouse_okut.pk),
        "description": "Atap bocor, air menetes di Gudang A",
    }


@pytest.fixture
def rolled_back(
    grow: Grow,
    commit: Callable[[], Checkpoint],
    client_for: Any,
    bawaslu_okut: User,
    world: World,
) -> dict[str, Any]:
    """13 entries under a co-signed checkpoint, a copy taken; 20 more under checkpoint 33,
    co-signed and kept; then the copy put back."""
    assert services.tree_size() < 13  # the world's own entries
    grow(13 - services.tree_size())
    client = client_for(bawaslu_okut)
    key = register(client)
    first = commit()
    cosign(client, key, first, None)
    grow(20)
    second = commit()
    cosign(client, key, second, first)
    kept = checkpoint_file.read()
    assert kept is not None and (kept.size, kept.root) == (33, bytes(second.root_hash))
    assert [c["signature_line"].split(" ")[1] for c in kept.cosignatures] == [WITNESS]
    second_note = kept.cosigned_note()
    put_back(13)
    return {"client": client, "key": key, "first": first, "second_note": second_note}


def test_the_kept_checkpoint_follows_true_commits_only_and_names_its_ledger(
    grow: Grow,
    commit: Callable[[], Checkpoint],
    home: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # (One test, not three: each test of this module empties every table and rebuilds.)
    rolled_back_with_its_transaction_is_not_kept(grow, django_capture_on_commit_callbacks)
    kept_after_each_checkpoint(grow, commit, home)
    another_ledger_is_not_taken_for_a_rollback(grow, commit)


def kept_after_each_checkpoint(grow: Grow, commit: Callable[[], Checkpoint], home: Path) -> None:
    grow(21 - services.tree_size())
    checkpoint = commit()
    kept = checkpoint_file.read()
    assert kept is not None
    assert checkpoint_file.path() == home / "ledger" / "checkpoint.json"
    assert (kept.size, kept.root, kept.note) == (21, bytes(checkpoint.root_hash), checkpoint.note)
    assert kept.genesis == bytes(Entry.objects.get(seq=0).leaf_hash)
    # The frontier of 21 = 16 + 4 + 1: entries 0..15, 16..19, and the leaf of entry 20.
    assert merkle.right_edge(21) == [(4, 0), (2, 4), (0, 20)]
    stored = services.read_nodes([(4, 0), (2, 4)])
    assert kept.frontier == [
        stored[(4, 0)],
        stored[(2, 4)],
        bytes(Entry.objects.get(seq=20).leaf_hash),
    ]
    assert sorted(p.name for p in (home / "ledger").iterdir()) == [
        "checkpoint.json",
        "checkpoint.lock",
    ]
    # A file of a smaller checkpoint of the same ledger never replaces it.
    smaller = checkpoint_file.Kept(
        genesis=kept.genesis, size=4, root=b"\0" * 32, signed_at=kept.signed_at, note="",
        frontier=[],
    )  # fmt: skip
    assert checkpoint_file.write(smaller) is False
    assert checkpoint_file.read() == kept


def rolled_back_with_its_transaction_is_not_kept(
    grow: Grow, django_capture_on_commit_callbacks: Any
) -> None:
    grow(5)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.make_checkpoint()
        raise RuntimeError("the caller's transaction fails")
    assert checkpoint_file.read() is None
    assert Checkpoint.objects.count() == 0
    # Nor inside a transaction still open (a test's, whose callbacks run at once) that then
    # rolls back.
    with pytest.raises(RuntimeError), transaction.atomic():
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.make_checkpoint()
        assert len(callbacks) == 1
        assert checkpoint_file.read() is None
        raise RuntimeError("the test's transaction rolls back")
    assert checkpoint_file.read() is None
    services.make_checkpoint()  # the same checkpoint, now outside any transaction: kept
    assert checkpoint_file.read() is not None


def another_ledger_is_not_taken_for_a_rollback(
    grow: Grow, commit: Callable[[], Checkpoint]
) -> None:
    """The kept file outlives the tables a test empties; the next test's fresh ledger (another
    entry 0) is not compared with it."""
    grow(3)
    commit()
    put_back(0)  # the next test: empty tables, the file of 24 entries on disk
    grow(3)
    assert rollback.detect() is None
    grow(2)
    assert services.tree_size() == 5
    assert verify_output()[0] == 0
    assert Rollback.objects.count() == 0


def test_a_rollback_is_caught_alarmed_once_refused_and_decided(
    rolled_back: dict[str, Any],
    stand_in: tuple[str, type[_Recorded]],
    capsys: pytest.CaptureFixture[str],
    client_for: Any,
    guard_okut: User,
    world: World,
    root: User,
    grow: Grow,
    tmp_path: Path,
) -> None:
    # verify says it in words and fails.
    code, out = verify_output()
    assert code == 1
    kept = checkpoint_file.read()
    assert kept is not None
    signed = rollback.signed_on(Rollback.objects.get())
    assert out.startswith(
        f"FAIL: the ledger holds 13 entries but checkpoint 33 was signed on {signed} "
        f"(kept in {checkpoint_file.path()})"
    )
    assert verify_output()[0] == 1  # and again: still one rollback, one alarm
    assert Rollback.objects.count() == 1
    alarm = Alarm.objects.get()
    assert (alarm.source, alarm.kind, alarm.severity, alarm.active) == (
        "ledger",
        "rollback",
        "critical",
        True,
    )
    assert alarm.site == world.warehouse_oku  # the first warehouse by region code (16.01)
    assert "13" in alarm.message and "33" in alarm.message
    assert Head.objects.get().held is True
    assert services.tree_size() == 13  # the alarm wrote nothing to the ledger

    # Every write is refused with the clean error; nothing is written.
    response = client_for(guard_okut).post("/api/v1/incidents", report(world))
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "ledger_rolled_back"
    assert "13" in body["message"] and "33" in body["message"]
    assert body["detail"]["held"] == 13 and body["detail"]["checkpoint"] == 33
    assert Incident.objects.count() == 0
    assert services.tree_size() == 13 and Entry.objects.count() == 13
    with pytest.raises(rollback.LedgerRolledBack):
        services.make_checkpoint()
    assert Checkpoint.objects.count() == 1
    # Reads go on.
    assert client_for(guard_okut).get("/api/v1/ledger/entries?start=0&end=13").status_code == 200

    # The witness refuses in words, and so does the server it asks.
    latest = rolled_back["client"].get("/api/v1/ledger/checkpoint").json()
    assert latest["tree_size"] == 13
    with pytest.raises(witness.Refused) as refused:
        witness.witness_checkpoint(
            new_note=latest["note"],
            previous_note=rolled_back["second_note"],
            consistency=[],
            instance_vkey=keys.instance_verifier_key(),
            key=rolled_back["key"],
            name=WITNESS,
            timestamp=1_800_001_000,
        )
    assert str(refused.value).startswith(
        "the ledger is smaller than the checkpoint I co-signed (13 < 33)"
    )
    proof = rolled_back["client"].get("/api/v1/ledger/proof/consistency?first=33&second=13")
    assert proof.status_code == 409
    assert proof.json()["code"] == "ledger_smaller_than_checkpoint"
    assert proof.json()["message"] == (  # in Bahasa Indonesia, the default language
        "Ledger lebih kecil daripada checkpoint yang Anda pegang (13 < 33)."
    )

    witness_tool_says_why_in_words(rolled_back, stand_in, tmp_path, capsys)

    # The admin decides: one decision entry naming the lost range, at the checkpoint's size.
    said = io.StringIO()
    call_command(
        "ledger", "accept-rollback", "--reason", "Disk failure; restored the 02:00 copy",
        "--by", root.username, stdout=said,
    )  # fmt: skip
    assert said.getvalue().splitlines()[0] == (
        "Accepted: entries 13..32 (20) are lost; the decision is entry 33; writes resume."
    )
    decision = Entry.objects.get(kind=rollback.ACCEPTED_KIND)
    payload = json.loads(decision.payload)
    assert decision.seq == 33
    assert decision.actor == root.username
    assert payload["lost"] == {"first": 13, "last": 32, "count": 20}
    assert payload["checkpoint"]["size"] == 33
    assert payload["checkpoint"]["root"] == kept.root.hex()
    assert payload["checkpoint"]["cosigned_by"] == [WITNESS]
    assert payload["frontier"] == [h.hex() for h in kept.frontier]
    assert payload["reason"] == "Disk failure; restored the 02:00 copy"
    assert payload["decided_by"] == root.username
    decided = Rollback.objects.get()
    assert (decided.decision_seq, decided.decided_by) == (33, root.username)
    assert Head.objects.get().held is False
    alarm.refresh_from_db()
    assert alarm.active is False
    assert list(Entry.objects.filter(seq__gte=13).values_list("seq", "kind")) == [
        (33, "ledger.rollback_accepted"),
        (34, "alarm.cleared"),
    ]
    # The witnessed checkpoint is back, with its co-signature, and a new one extends it.
    assert Checkpoint.objects.filter(size=33).exists()
    assert Cosignature.objects.filter(checkpoint__size=33).count() == 1
    assert Checkpoint.objects.order_by("-size").first().size == 35  # type: ignore[union-attr]

    # Writes resume.
    response = client_for(guard_okut).post("/api/v1/incidents", report(world))
    assert response.status_code == 201, response.content
    grow(4)
    assert accept_again_is_refused(root)

    # Both verifiers accept the ledger, naming what was lost.
    code, out = verify_output()
    assert code == 0, out
    assert out.startswith(f"OK: {services.tree_size()} entries")
    assert out.rstrip().endswith(
        f"; {services.tree_size() - 20} untouched, 20 lost (seq 13..32, a rollback accepted "
        "at seq 33)."
    )
    report_ = verify_export(exported(), keys.instance_verifier_key(), rolled_back["second_note"])
    assert report_.lost == [(13, 33)]
    assert report_.entries == services.tree_size()
    assert report_.untouched == services.tree_size() - 20
    assert "20 lost (seq 13..32, a rollback accepted at seq 33)" in report_.summary()

    # The witness goes on from the checkpoint it co-signed; the server checks from there too.
    with transaction.atomic():
        latest_cp = services.make_checkpoint()
    assert latest_cp is not None
    second = Checkpoint.objects.get(size=33)
    cosign(rolled_back["client"], rolled_back["key"], latest_cp, second)
    # A proof that needs the lost entries' subtrees is refused in words, not a 500.
    across = rolled_back["client"].get(
        f"/api/v1/ledger/proof/consistency?first=5&second={latest_cp.size}"
    )
    assert across.status_code == 409
    assert across.json()["code"] == "ledger_range_lost"
    # Consistency from the witnessed checkpoint still verifies against the new root.
    merkle.verify_consistency(
        33,
        latest_cp.size,
        kept.root,
        bytes(latest_cp.root_hash),
        services.consistency_proof(33, latest_cp.size),
    )
    invented_lost_range_is_caught_by_both_verifiers()


def accept_again_is_refused(admin: User) -> bool:
    before = Entry.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("ledger", "accept-rollback", "--reason", "again", "--by", admin.username)
    return str(refused.value).startswith("ledger_not_rolled_back") and (
        Entry.objects.count() == before
    )


def test_a_copy_grown_after_the_restore_is_a_fork_that_cannot_be_continued(
    rolled_back: dict[str, Any], grow: Grow, root: User, guard_okut: User
) -> None:
    grow(25)  # written before anything looked: other entries where the lost ones were
    found = rollback.detect()
    assert found is not None and found.forked is True and found.held_size == 38
    code, out = verify_output()
    assert code == 1
    assert "checkpoint 33 was signed on" in out and "has another root (a fork)" in out
    # Only an admin decides, and says why.
    with pytest.raises(CommandError, match="no active superuser"):
        call_command("ledger", "accept-rollback", "--reason", "x", "--by", guard_okut.username)
    with pytest.raises(CommandError, match="rollback_reason_required"):
        call_command("ledger", "accept-rollback", "--reason", "  ", "--by", root.username)
    with pytest.raises(CommandError, match="ledger_rollback_forked"):
        call_command("ledger", "accept-rollback", "--reason", "x", "--by", root.username)
    assert Entry.objects.count() == 38
    assert Rollback.objects.get().decided_at is None
    assert Head.objects.get().held is True
    assert not Checkpoint.objects.filter(size=33).exists()


def invented_lost_range_is_caught_by_both_verifiers() -> None:
    lines = exported()
    assert verify_export(lines, keys.instance_verifier_key()).lost == [(13, 33)]
    # The range recorded beside the chain is changed: the decision entry no longer names it.
    Rollback.objects.update(held_size=12)
    code, out = verify_output()
    assert code == 1
    assert out.startswith("FAIL: seq 12: an entry where the rollback decided at seq 33 lost")
    lost = next(i for i, line in enumerate(lines) if line.startswith('{"lost"'))
    item = json.loads(lines[lost])
    item["lost"]["start"] = 12
    with pytest.raises(Tampered, match=r"a lost range 12\.\.33 after entry 13"):
        verify_export([*lines[:lost], json.dumps(item) + "\n", *lines[lost + 1 :]],
                      keys.instance_verifier_key())  # fmt: skip


class _Recorded(BaseHTTPRequestHandler):
    """A stand-in on 127.0.0.1 answering what SIAGA's API answered, for the witness tool."""

    answers: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:
        status, body = self.answers[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[tuple[str, type[_Recorded]]]:
    handler = type("Handler", (_Recorded,), {"answers": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def witness_tool_says_why_in_words(
    rolled_back: dict[str, Any],
    stand_in: tuple[str, type[_Recorded]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = stand_in
    client = rolled_back["client"]
    base = "/api/v1/ledger"
    for path in ("/checkpoint", "/proof/consistency?first=33&second=13"):
        answer = client.get(base + path)
        handler.answers[base + path] = (answer.status_code, answer.content)
    state = tmp_path / "state.txt"
    state.write_text(rolled_back["second_note"])
    (tmp_path / "instance.vkey").write_text(keys.instance_verifier_key())
    key_file = tmp_path / "witness.pem"
    key_file.write_bytes(_pem(rolled_back["key"]))
    code = witness.main([
        "cosign", "--url", url, "--token", "sg_x", "--key", str(key_file), "--name", WITNESS,
        "--instance-key", f"@{tmp_path / 'instance.vkey'}", "--state", str(state),
    ])  # fmt: skip
    assert code == 1
    assert capsys.readouterr().out.startswith(
        "REFUSED: the ledger is smaller than the checkpoint I co-signed (13 < 33)"
    )
    assert state.read_text() == rolled_back["second_note"]  # nothing co-signed, state kept
    # A server's refusal reads as its code and message, not "HTTP Error 409".
    with pytest.raises(witness.ServerRefused) as refused:
        witness._request(f"{url}{base}/proof/consistency?first=33&second=13", "sg_x")
    assert str(refused.value) == (
        "the server answered 409 ledger_smaller_than_checkpoint: Ledger lebih kecil daripada "
        "checkpoint yang Anda pegang (13 < 33)."
    )


def _pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

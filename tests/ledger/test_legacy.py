"""Entries written before the redaction list held secrets and full NIKs in their payloads; the
clean-up scrubs them in place and both verifiers report them as redacted, not tampered."""

from __future__ import annotations

import importlib
import io
import json
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction

from siaga.ledger import audit, keys, legacy, parts, redaction, services
from siaga.ledger.models import Entry, PayloadRedaction
from siaga.ledger.verify import Tampered, verify_export

pytestmark = pytest.mark.django_db

SECRET = "Very-long-Passw0rd-xyz"
NIK = "1608011234567890"

LEGACY_PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("user.created", {"via": "admin", "changes": {"password1": SECRET, "password2": SECRET}}),
    ("user.changed", {"via": "admin", "changes": {"password": "argon2$" + SECRET}}),
    ("access.log.exported", {"filters": {"q": NIK, "site": "3"}, "rows": 4}),
    ("access.visitor.registered", {"visitor": "7", "nik": "************7890", "name": "Ani"}),
]


def exported() -> list[str]:
    out = io.StringIO()
    audit.export(out)
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]]


def write_legacy(monkeypatch: pytest.MonkeyPatch) -> list[Entry]:
    """Entries as an older version wrote them: through the real append path, whose refusal
    did not exist yet."""
    with monkeypatch.context() as patched:
        patched.setattr(redaction, "forbidden_in", lambda text: None)
        with transaction.atomic():
            written = [
                services.append(
                    kind=kind,
                    subject=("test.thing", str(i)),
                    payload=payload,
                    actor="admin",
                    region="16.08.01",
                )
                for i, (kind, payload) in enumerate(LEGACY_PAYLOADS)
            ]
    return written


@pytest.fixture
def legacy_ledger(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with transaction.atomic():
        for i in range(3):
            services.append(kind="test.fact", subject=("t", str(i)), payload={"n": i})
    written = write_legacy(monkeypatch)
    with transaction.atomic():
        services.append(kind="test.fact", subject=("t", "9"), payload={"n": 9})
    checkpoint = services.make_checkpoint()
    assert checkpoint is not None
    return {"seqs": [e.seq for e in written], "checkpoint": checkpoint}


def assert_clean(seqs: list[int], checkpoint: Any) -> Entry:
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM ledger_entry")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert SECRET not in stored and NIK not in stored
    text = "".join(exported())
    assert SECRET not in text and NIK not in text
    (cleaning,) = Entry.objects.filter(kind="ledger.redacted")
    payload = json.loads(cleaning.payload)
    assert payload["count"] == len(seqs)
    assert payload["reason"] == "legacy secret/identifier in payload"
    assert payload["seqs"] == seqs
    assert set(payload["records"]) == {str(s) for s in seqs}
    assert sorted(PayloadRedaction.objects.values_list("entry_id", flat=True)) == seqs
    # The tree and the checkpoint signed before the clean-up still verify.
    services.make_checkpoint()
    result = audit.verify_database()
    assert result.redacted == seqs
    assert result.checkpoints == 2
    report = verify_export(exported(), keys.instance_verifier_key(), checkpoint.note)
    assert report.redacted == seqs
    assert report.tampered == {}
    assert services.root_hash(checkpoint.size) == bytes(checkpoint.root_hash)
    return cleaning


def test_the_command_scrubs_legacy_entries_which_then_verify_as_redacted(
    legacy_ledger: dict[str, Any],
) -> None:
    seqs = legacy_ledger["seqs"]
    assert audit.verify_database().redacted == []  # before: sound, but not clean
    leaves = {e.seq: bytes(e.leaf_hash) for e in Entry.objects.filter(seq__in=seqs)}
    out = io.StringIO()
    call_command("ledger", "clean-legacy", stdout=out)
    assert out.getvalue().startswith(f"Scrubbed {len(seqs)} legacy entries")
    assert_clean(seqs, legacy_ledger["checkpoint"])
    scrubbed = {e.seq: e for e in Entry.objects.filter(seq__in=seqs)}
    assert json.loads(scrubbed[seqs[0]].payload) == {
        "via": "admin",
        "changes": {"password1": "[redacted]", "password2": "[redacted]"},
    }
    assert json.loads(scrubbed[seqs[2]].payload) == {
        "filters": {"q": "[redacted]", "site": "3"},
        "rows": 4,
    }
    assert json.loads(scrubbed[seqs[3]].payload)["nik"] == "[redacted]"
    assert all(bytes(scrubbed[s].leaf_hash) == leaves[s] for s in seqs)
    # Again: nothing left, no second entry.
    size = services.tree_size()
    out = io.StringIO()
    call_command("ledger", "clean-legacy", stdout=out)
    assert out.getvalue().startswith("No legacy entry")
    assert services.tree_size() == size


def test_the_migration_cleans_with_its_own_append(legacy_ledger: dict[str, Any]) -> None:
    migration = importlib.import_module("siaga.ledger.migrations.0005_clean_legacy_payloads")
    with transaction.atomic():
        migration.clean_legacy_payloads(apps, None)
    cleaning = assert_clean(legacy_ledger["seqs"], legacy_ledger["checkpoint"])
    assert cleaning.seq == services.tree_size() - 1
    assert cleaning.region == "16.08.01"
    with transaction.atomic():
        migration.clean_legacy_payloads(apps, None)  # idempotent
    assert Entry.objects.filter(kind="ledger.redacted").count() == 1


def test_a_scrubbed_payload_changed_afterwards_is_tampered(legacy_ledger: dict[str, Any]) -> None:
    seqs = legacy_ledger["seqs"]
    services.clean_legacy(actor="admin")
    Entry.objects.filter(seq=seqs[2]).update(payload='{"filters":{"q":"x"},"rows":400}')
    with pytest.raises(audit.Broken) as broken:
        audit.verify_database()
    error = broken.value
    assert error.tampered == {seqs[2]: parts.LEGACY_UNSOUND}
    assert error.redacted == [seqs[0], seqs[1], seqs[3]]
    with pytest.raises(Tampered, match=f"seq {seqs[2]}: its scrubbed payload") as caught:
        verify_export(exported(), keys.instance_verifier_key())
    assert caught.value.report is not None
    assert caught.value.report.redacted == [seqs[0], seqs[1], seqs[3]]


def test_a_redaction_record_without_its_ledger_entry_is_tampered(
    legacy_ledger: dict[str, Any],
) -> None:
    seq = legacy_ledger["seqs"][0]
    services.clean_legacy()
    # A forger scrubs a clean entry and writes the side record, but no ledger.redacted entry
    # lists it.
    target = Entry.objects.get(payload__contains='"n":9')
    cleaning = Entry.objects.get(kind="ledger.redacted")
    PayloadRedaction.objects.create(
        entry=target,
        leaf_hash=bytes(target.leaf_hash),
        record_sha256=legacy.scrubbed_record_sha256(target, '{"n":8}'),
        redacted_at=cleaning.recorded_at,
        redaction_reason=legacy.LEGACY_REASON,
        redaction_seq=cleaning.seq,
    )
    Entry.objects.filter(seq=target.seq).update(payload='{"n":8}')
    with pytest.raises(audit.Broken) as broken:
        audit.verify_database()
    error = broken.value
    assert error.tampered == {target.seq: parts.LEGACY_UNSOUND}
    assert seq in error.redacted
    with pytest.raises(Tampered, match=f"seq {target.seq}: its redaction names entry"):
        verify_export(exported(), keys.instance_verifier_key())

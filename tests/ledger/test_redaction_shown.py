"""What a reader of the ledger sees of personal parts and redactions: the part while it lies
beside the chain, then when, by whom and why it was erased; a scrubbed legacy entry still
proven included from its original leaf."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from siaga.accounts.models import User
from siaga.ledger import services
from siaga.ledger.models import Entry
from tests.ledger.test_legacy import write_legacy

pytestmark = pytest.mark.django_db

PERSON = "c" * 64


def checked_in(name: str) -> Entry:
    with transaction.atomic():
        return services.append(
            kind="access.gate.check_in",
            subject=("access.gateevent", "e1"),
            payload={"visit": "v1", "zone": "Gudang A"},
            actor="jaga.okut",
            region="16.08.01",
            personal={"name": name, "nik_masked": "************0123"},
            person=PERSON,
        )


def api_entry(client: Any, seq: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/ledger/entries?start={seq}&end={seq + 1}")
    assert response.status_code == 200
    (entry,) = response.json()
    assert entry["seq"] == seq
    return dict(entry)


def test_the_part_is_shown_until_erased_then_its_redaction(
    client_for: Any, bawaslu_okut: User
) -> None:
    entry = checked_in("Ani Lestari")
    services.make_checkpoint()
    client = client_for(bawaslu_okut)

    shown = api_entry(client, entry.seq)
    assert shown["personal"] == {"name": "Ani Lestari", "nik_masked": "************0123"}
    assert shown["personal_hash"] == entry.personal_hash
    assert shown["redaction"] is None
    page = client.get(f"/ledger/entries/{entry.seq}/").content.decode()
    assert 'id="personal-part"' in page and "Ani Lestari" in page
    assert "text-bg-success" in page  # the server's check from the stored fields

    assert services.redact(person=PERSON, reason="retensi NIK", actor="admin") == 1
    redaction = Entry.objects.get(kind="ledger.redacted")
    after = api_entry(client, entry.seq)
    assert after["personal"] is None
    assert after["personal_hash"] == entry.personal_hash  # the record is unchanged
    assert {k: after["redaction"][k] for k in ("what", "by", "reason", "seq")} == {
        "what": "personal_part",
        "by": "admin",
        "reason": "retensi NIK",
        "seq": redaction.seq,
    }
    page = client.get(f"/ledger/entries/{entry.seq}/").content.decode()
    assert "Ani Lestari" not in page
    assert 'id="redaction"' in page and "retensi NIK" in page
    assert f'href="/ledger/entries/{redaction.seq}/"' in page
    assert "text-bg-success" in page  # still proven included


def test_a_scrubbed_legacy_entry_is_proven_from_its_original_leaf(
    client_for: Any, bawaslu_okut: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_legacy(monkeypatch)
    services.clean_legacy(actor="admin")
    services.make_checkpoint()
    scrubbed = written[0]
    client = client_for(bawaslu_okut)
    page = client.get(f"/ledger/entries/{scrubbed.seq}/").content.decode()
    assert 'data-scrubbed="true"' in page
    assert 'id="redaction"' in page and "legacy secret/identifier in payload" in page
    assert "text-bg-success" in page and "text-bg-danger" not in page
    shown = api_entry(client, scrubbed.seq)
    assert shown["payload"]["changes"]["password1"] == "[redacted]"
    assert shown["redaction"]["what"] == "payload"

    # The scrubbed text changed again afterwards: the server's check fails.
    Entry.objects.filter(seq=scrubbed.seq).update(
        payload=json.dumps({"via": "admin", "changes": {}}, separators=(",", ":"))
    )
    page = client.get(f"/ledger/entries/{scrubbed.seq}/").content.decode()
    assert "text-bg-danger" in page

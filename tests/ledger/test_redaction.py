from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from siaga.ledger import redaction, services
from siaga.ledger.models import Entry


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"changes": {"password1": "x"}},
        {"deep": [{"token": "abc"}]},
        {"q": "q=3201234567890123"},
        {"contact": "+6281234567890"},
        {"contact": "081234567890"},
    ],
)
def test_append_refuses_secrets_and_identifiers(payload: dict[str, Any]) -> None:
    before = Entry.objects.count()
    with pytest.raises(services.LedgerUsageError), transaction.atomic():
        services.append(kind="test.fact", subject=("test.thing", "1"), payload=payload)
    assert Entry.objects.count() == before


@pytest.mark.django_db
def test_append_takes_ordinary_payload() -> None:
    with transaction.atomic():
        entry = services.append(
            kind="test.fact", subject=("test.thing", "1"), payload={"n": 1234567, "nik_hash": "ab"}
        )
    assert Entry.objects.filter(seq=entry.seq).exists()


def test_change_record_hides_secrets_and_masks() -> None:
    record = redaction.change_record(
        {"password1": "s3cret!", "nik": "3201234567890123", "name": "Budi"},
        ["password1", "nik", "name"],
    )
    assert record == {"credentials": "changed", "nik_masked": "************0123", "name": "Budi"}


@pytest.mark.django_db
def test_admin_add_user_never_writes_password(client_for: Any, root: Any) -> None:
    client = client_for(root)
    secret = "Very-long-Passw0rd-xyz"
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "baru",
            "password1": secret,
            "password2": secret,
            "usable_password": "true",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entries = list(Entry.objects.filter(kind="user.created"))
    assert len(entries) == 1
    assert secret not in entries[0].payload
    assert "password1" not in entries[0].payload
    assert json.loads(entries[0].payload)["changes"]["credentials"] == "changed"


def test_an_id_whose_last_group_looks_like_a_mobile_number_is_not_refused() -> None:
    assert redaction.forbidden_in('{"visitor":"0193a1b2-7c3d-7e4f-8a5b-081234567890"}') is None
    assert redaction.forbidden_in('{"note":"call 081234567890"}') is not None
    assert redaction.forbidden_in('{"q":"1608011234567890"}') is not None

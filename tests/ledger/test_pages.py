from __future__ import annotations

from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.ledger.models import Checkpoint, Entry

pytestmark = pytest.mark.django_db


def test_ledger_page_shows_checkpoint_witnesses_and_scoped_entries(
    client_for: Any, signed: list[Checkpoint], grow: Any, bawaslu_okut: User, kpu_oku: User
) -> None:
    grow(1, region="16.01.14")
    page = client_for(bawaslu_okut).get("/ledger/").content.decode()
    assert f"{signed[-1].size}" in page
    assert "Belum ada saksi yang menandatangani checkpoint ini." in page
    assert "test.fact" in page
    other = client_for(kpu_oku).get("/ledger/?kind=test.fact").content.decode()
    assert other.count("/ledger/entries/") == 1


def test_ledger_filters_by_subject(client_for: Any, grow: Any, operator_okut: User) -> None:
    grow(4)
    response = client_for(operator_okut).get(
        "/ledger/?subject_type=test.thing&subject_id=2", HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert "<html" not in page
    assert page.count("/ledger/entries/") == 1


def test_entry_page_carries_a_proof_the_server_checked(
    client_for: Any, signed: list[Checkpoint], operator_okut: User
) -> None:
    entry = Entry.objects.filter(kind="test.fact").order_by("seq").first()
    assert entry is not None
    response = client_for(operator_okut).get(f"/ledger/entries/{entry.seq}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-size="' + str(signed[-1].size) + '"' in page
    assert "ledger/verify.js" in page
    assert "text-bg-success" in page  # the server's own check


def test_entry_of_another_region_is_404(
    client_for: Any, signed: list[Checkpoint], kpu_oku: User
) -> None:
    entry = Entry.objects.filter(kind="test.fact").order_by("seq").first()
    assert entry is not None
    assert client_for(kpu_oku).get(f"/ledger/entries/{entry.seq}/").status_code == 404
    assert client_for(kpu_oku).get("/ledger/entries/999999/").status_code == 404

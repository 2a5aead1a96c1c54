"""The look-up log as a page: Bawaslu reads its own scope's look-ups, the gate does not; a
search for one NIK is a POST, matches its keyed hash, is recorded, and never shows the NIK."""

from __future__ import annotations

from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.privacy.models import LookupLog
from tests.access.conftest import NIK_DRIVER, NIK_OPERATOR, Gate
from tests.privacy.conftest import post

pytestmark = pytest.mark.django_db

PAGE = "/privasi/pencarian-nik/"
LOOKUP = "/api/v1/visitors/lookup"


def rows(page: str) -> int:
    return page.count('<tr class="lookup-row">')


def test_bawaslu_reads_its_scope_and_finds_one_nik(
    gate: Gate, client_for: Any, guard_okut: User, bawaslu_okut: User, kpu_oku: User
) -> None:
    post(client_for(guard_okut), LOOKUP, {"nik": NIK_OPERATOR})
    post(client_for(guard_okut), LOOKUP, {"nik": NIK_DRIVER})
    post(client_for(kpu_oku), LOOKUP, {"nik": NIK_OPERATOR})
    bawaslu = client_for(bawaslu_okut)
    listed = bawaslu.get(PAGE)
    assert listed.status_code == 200
    page = listed.content.decode()
    assert rows(page) == 2  # OKU Timur's two, not OKU's
    assert "jaga.okut" in page and "kpu.oku<" not in page
    assert listed["Cache-Control"] == "private, no-store"
    # The records' tabs lead here for Bawaslu.
    assert f'href="{PAGE}"' in bawaslu.get("/gerbang/log/").content.decode()

    searched = bawaslu.post(PAGE, {"nik": NIK_OPERATOR}).content.decode()
    assert rows(searched) == 2  # the guard's look-up, and this search itself
    assert NIK_OPERATOR not in searched and "1608********0004" in searched
    mine = LookupLog.objects.filter(user=bawaslu_okut).get()
    assert (mine.channel, mine.answer, mine.region) == ("web", "found", "16.08")

    bad = bawaslu.post(PAGE, {"nik": "12345"})
    assert bad.status_code == 200
    assert 'id="lookup-error"' in bad.content.decode() and rows(bad.content.decode()) == 0
    assert LookupLog.objects.filter(user=bawaslu_okut).count() == 1


def test_the_gate_may_not_read_the_log(
    gate: Gate, client_for: Any, guard_okut: User, kpu_oku: User
) -> None:
    post(client_for(guard_okut), LOOKUP, {"nik": NIK_OPERATOR})
    for reader in (guard_okut, kpu_oku):
        client = client_for(reader)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, {"nik": NIK_OPERATOR}).status_code == 403
        assert f'href="{PAGE}"' not in client.get("/gerbang/log/").content.decode()
    assert LookupLog.objects.count() == 1

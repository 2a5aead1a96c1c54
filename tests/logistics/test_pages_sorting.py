"""Sortir-lipat on the web: a session recorded once from its form, moving the sheets put aside
from good to damaged stock; a destruction before Bawaslu and police witnesses taking them out
again; each refusal the same form with what was typed and nothing written; the page that shows
both to whoever oversees the warehouse, and to nobody else."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.ledger.models import Entry
from siaga.logistics import services
from siaga.logistics.models import Destruction, SortingLine, SortingSession, Stock
from tests.logistics.chain import ELECTION, H5, WIB, Chain, chain_fixture
from tests.logistics.test_pages_operator import hidden_id, stock, text_of, url

__all__ = ["chain_fixture"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db


def sorting_form(form_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "election": ELECTION,
        "started_at": "2029-01-20T08:00",
        "ended_at": "2029-01-20T16:30",
        "workers": "40",
        "note": "Gudang A",
        "good-ss-dpr": "1950",
        "robek-ss-dpr": "30",
        "noda-ss-dpr": "5",
        "replacement-ss-dpr": "35",
        "good-ss-dpd": "1990",
        "salah_cetak-ss-dpd": "10",
        **extra,
    }


def destruction_form(form_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "election": ELECTION,
        "method": "Dibakar di halaman gudang",
        "witness1-name": "Rahmat Hidayat",
        "witness1-agency": "bawaslu",
        "witness2-name": "Bripka Andi",
        "witness2-agency": "polri",
        "damaged-ss-dpr": "35",
        "damaged-ss-dpd": "4",
        "excess-ss-dpd": "6",
        **extra,
    }


def counts() -> tuple[int, int, int, int]:
    return (
        SortingSession.objects.count(),
        SortingLine.objects.count(),
        Destruction.objects.count(),
        Entry.objects.count(),
    )


def sort_some(chain: Chain, actor: User) -> None:
    services.record_sorting(
        actor=actor,
        id=uuid.uuid4(),
        site_id=chain.warehouse.pk,
        election=ELECTION,
        started_at=H5 - dt.timedelta(days=10),
        ended_at=H5 - dt.timedelta(days=10, hours=-8),
        workers=12,
        lines=[services.SortingLineIn("ss-dpr", 1900, 40, {"robek": 40}, 40)],
    )


# --- a session ------------------------------------------------------------------------------


def test_the_form_has_a_row_per_ballot_kind_and_a_fresh_id(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    first = client.get(url("operator-sorting", chain.warehouse))
    assert first.status_code == 200
    body = first.content.decode()
    for code in ("ss-ppwp", "ss-dpr", "ss-dpd", "ss-dprd-prov", "ss-dprd-kab"):
        assert f'data-item="{code}"' in body
        assert f'name="robek-{code}"' in body
    assert 'data-item="tinta"' not in body  # not a ballot: not sorted
    assert hidden_id(first) != hidden_id(client.get(url("operator-sorting", chain.warehouse)))


def test_a_session_is_recorded_once_and_moves_the_damaged_sheets(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    form_id = hidden_id(client.get(url("operator-sorting", chain.warehouse)))
    for _ in range(2):
        done = client.post(url("operator-sorting", chain.warehouse), sorting_form(form_id))
        assert done.status_code == 303
        assert done["Location"] == url("sorting", chain.warehouse)
    session = SortingSession.objects.get(pk=form_id)
    assert (session.site_id, session.workers, session.note) == (chain.warehouse.pk, 40, "Gudang A")
    assert session.started_at == dt.datetime(2029, 1, 20, 8, 0, tzinfo=WIB)
    assert session.ended_at == dt.datetime(2029, 1, 20, 16, 30, tzinfo=WIB)
    lines = {
        line.item.code: (line.good, line.damaged, line.reasons, line.replacement_requested)
        for line in SortingLine.objects.filter(session=session).select_related("item")
    }
    assert lines == {
        "ss-dpr": (1950, 35, {"robek": 30, "noda": 5}, 35),
        "ss-dpd": (1990, 10, {"salah_cetak": 10}, 0),
    }
    assert stock(chain, "ss-dpr") == (1965, 35)
    assert stock(chain, "ss-dpd") == (1990, 10)
    assert stock(chain, "ss-ppwp") == (2000, 0)
    assert SortingSession.objects.count() == 1
    assert Entry.objects.filter(kind="logistics.sorting.recorded").count() == 1
    page = client.get(done["Location"])
    assert page.status_code == 200
    assert 'data-item="ss-dpr" data-figures="1950 35 35 0 0 35"' in page.content.decode()


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"robek-ss-dpr": "-3"}, 422, "Quantities are whole numbers, zero or more."),
        ({"good-ss-dpd": "12.5"}, 422, "Quantities are whole numbers, zero or more."),
        ({"noda-ss-dpr": "lima"}, 422, "Quantities are whole numbers, zero or more."),
        ({"ended_at": "2029-01-20T07:00"}, 422, "The session ends before it starts."),
        ({"started_at": "kemarin"}, 422, "Enter a date and time, such as 2029-01-25 08:00."),
        ({"robek-ss-dpr": "3000", "noda-ss-dpr": ""}, 409, "Not enough"),
    ],
)
def test_a_refused_session_is_the_form_again_and_nothing_is_written(
    chain: Chain,
    operator_okut: User,
    english: Any,
    extra: dict[str, str],
    status: int,
    message: str,
) -> None:
    before, stocks = counts(), sorted(Stock.objects.values_list("item_id", "quantity", "damaged"))
    page = english(operator_okut).post(
        url("operator-sorting", chain.warehouse), sorting_form(str(uuid.uuid4()), **extra)
    )
    assert page.status_code == status
    body = text_of(page)
    assert 'id="operator-error"' in body
    assert message in body
    assert 'value="Gudang A"' in body  # what was typed stays
    assert counts() == before
    assert sorted(Stock.objects.values_list("item_id", "quantity", "damaged")) == stocks


def test_a_session_of_nothing_is_refused(chain: Chain, operator_okut: User, english: Any) -> None:
    before = counts()
    form = {
        k: v for k, v in sorting_form(str(uuid.uuid4())).items() if not k.endswith(("-dpr", "-dpd"))
    }
    page = english(operator_okut).post(url("operator-sorting", chain.warehouse), form)
    assert page.status_code == 422
    assert "List at least one item." in text_of(page)
    assert counts() == before


# --- a destruction --------------------------------------------------------------------------


def test_a_destruction_is_recorded_once_and_takes_the_sheets_out(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    sort_some(chain, operator_okut)
    client = english(operator_okut)
    opened = client.get(url("operator-destruction", chain.warehouse))
    assert opened.status_code == 200
    body = opened.content.decode()
    assert 'data-held="40"' in body
    assert '<option value="bawaslu" selected>' in body
    assert '<option value="polri" selected>' in body
    form_id = hidden_id(opened)
    for _ in range(2):
        done = client.post(url("operator-destruction", chain.warehouse), destruction_form(form_id))
        assert done.status_code == 409  # only 40 damaged DPR sheets, but no DPD ones are held
    assert Destruction.objects.count() == 0
    form = destruction_form(form_id, **{"damaged-ss-dpd": ""})
    for _ in range(2):
        done = client.post(url("operator-destruction", chain.warehouse), form)
        assert done.status_code == 303
    destruction = Destruction.objects.get(pk=form_id)
    assert destruction.lines == [["ss-dpr", 35, 0], ["ss-dpd", 0, 6]]
    assert {w["agency"] for w in destruction.witnesses} == {"bawaslu", "polri"}
    assert stock(chain, "ss-dpr") == (1960, 5)
    assert stock(chain, "ss-dpd") == (1994, 0)
    page = client.get(url("sorting", chain.warehouse)).content.decode()
    assert 'data-item="ss-dpr" data-figures="1900 40 40 35 0 5"' in page
    assert 'data-item="ss-dpd" data-figures="0 0 0 0 6 0"' in page
    assert f'data-destruction="{form_id}"' in page


def test_a_destruction_without_a_police_witness_is_refused(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    sort_some(chain, operator_okut)
    before, stocks = counts(), sorted(Stock.objects.values_list("item_id", "quantity", "damaged"))
    page = english(operator_okut).post(
        url("operator-destruction", chain.warehouse),
        destruction_form(str(uuid.uuid4()), **{"witness2-agency": "kpu", "damaged-ss-dpd": ""}),
    )
    assert page.status_code == 422
    body = text_of(page)
    assert "A destruction needs a Bawaslu witness and a police witness." in body
    assert 'value="Bripka Andi"' in body
    assert counts() == before
    assert sorted(Stock.objects.values_list("item_id", "quantity", "damaged")) == stocks


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["operator-sorting", "operator-destruction"])
def test_another_kabupaten_gets_404_and_writes_nothing(
    chain: Chain, kpu_oku: User, english: Any, name: str
) -> None:
    client, before = english(kpu_oku), counts()
    assert client.get(url(name, chain.warehouse)).status_code == 404
    form = (sorting_form if name == "operator-sorting" else destruction_form)(str(uuid.uuid4()))
    assert client.post(url(name, chain.warehouse), form).status_code == 404
    assert counts() == before


@pytest.mark.parametrize("name", ["operator-sorting", "operator-destruction"])
def test_a_reader_who_may_not_record_gets_403_and_writes_nothing(
    chain: Chain, operator_okut: User, bawaslu_okut: User, english: Any, name: str
) -> None:
    sort_some(chain, operator_okut)
    client, before = english(bawaslu_okut), counts()
    assert client.get(url(name, chain.warehouse)).status_code == 403
    form = (sorting_form if name == "operator-sorting" else destruction_form)(str(uuid.uuid4()))
    assert client.post(url(name, chain.warehouse), form).status_code == 403
    assert counts() == before


def test_bawaslu_sees_the_page_without_the_forms(
    chain: Chain, operator_okut: User, bawaslu_okut: User, english: Any
) -> None:
    sort_some(chain, operator_okut)
    page = english(bawaslu_okut).get(url("sorting"))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-site="{chain.warehouse.pk}" data-item="ss-dpr"' in body
    assert 'id="sorting-actions"' not in body
    assert url("operator-sorting", chain.warehouse) not in body


def test_another_kabupaten_sees_none_of_it(
    chain: Chain, operator_okut: User, kpu_oku: User, english: Any
) -> None:
    sort_some(chain, operator_okut)
    page = english(kpu_oku).get(url("sorting"))
    assert page.status_code == 200
    assert str(chain.warehouse.pk) not in page.content.decode()
    asked = english(kpu_oku).get(url("sorting", chain.warehouse))
    assert asked.status_code == 200
    assert "data-session=" not in asked.content.decode()


def test_anonymous_is_sent_to_sign_in(chain: Chain, client_for: Any) -> None:
    for target in (url("sorting"), url("operator-sorting", chain.warehouse)):
        page = client_for(None).get(target)
        assert page.status_code == 302
        assert page["Location"].startswith(reverse("login"))


def test_the_index_offers_sorting_at_the_warehouse_only(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    body = english(operator_okut).get(url("operator-home")).content.decode()
    assert url("operator-sorting", chain.warehouse) in body
    assert url("operator-destruction", chain.warehouse) in body
    assert url("operator-sorting", chain.ppk) not in body

"""The operator's phone forms: a delivery counted in, a package packed and sealed, a handover
dispatched — each written once however often it is posted, each refusal shown on the form with
what was typed and nothing written, each refused to whoever may not record at the site."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.logistics.models import (
    Discrepancy,
    Handover,
    ItemType,
    Package,
    PackageLine,
    Receipt,
    ReceiptLine,
    Seal,
    Stock,
)
from tests.logistics.chain import ELECTION, Chain, chain_fixture, pack

__all__ = ["chain_fixture"]  # the fixture, imported to be used here


pytestmark = pytest.mark.django_db


def url(name: str, site: Any = None) -> str:
    base = reverse(f"logistics:{name}")
    return f"{base}?site={site.pk}" if site is not None else base


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def hidden_id(response: Any) -> str:
    found = re.search(r'name="id" value="([0-9a-f-]{36})"', response.content.decode())
    assert found is not None
    return found[1]


def stock(chain: Chain, item: str) -> tuple[int, int]:
    row = Stock.objects.filter(site=chain.warehouse, item__election=chain.election, item__code=item)
    found = row.values_list("quantity", "damaged").first()
    return found if found is not None else (0, 0)


# --- the index ------------------------------------------------------------------------------


def test_the_index_lists_my_sites_with_their_forms(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    page = english(operator_okut).get(url("operator-home"))
    assert page.status_code == 200
    body = page.content.decode()
    for site in (chain.warehouse, chain.ppk, chain.pps):
        assert f'data-site="{site.pk}"' in body
        for form in ("operator-receipt", "operator-pack", "operator-dispatch"):
            assert url(form, site) in body
    assert f'data-site="{chain.tps1.pk}"' not in body


def test_the_index_of_another_kabupaten_lists_none_of_mine(
    chain: Chain, kpu_oku: User, english: Any
) -> None:
    page = english(kpu_oku).get(url("operator-home"))
    assert page.status_code == 200
    assert str(chain.warehouse.pk) not in page.content.decode()


@pytest.mark.parametrize(
    "name", ["operator-home", "operator-receipt", "operator-pack", "operator-dispatch"]
)
def test_anonymous_is_sent_to_sign_in(chain: Chain, client_for: Any, name: str) -> None:
    page = client_for(None).get(url(name, None if name == "operator-home" else chain.warehouse))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))


# --- forms: GET -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["operator-receipt", "operator-pack", "operator-dispatch"])
def test_each_form_opens_with_a_fresh_id(
    chain: Chain, operator_okut: User, english: Any, name: str
) -> None:
    client = english(operator_okut)
    first = client.get(url(name, chain.warehouse))
    assert first.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in first.content.decode()
    assert hidden_id(first) != hidden_id(client.get(url(name, chain.warehouse)))


def test_the_receipt_form_has_a_row_per_catalogue_item(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    body = english(operator_okut).get(url("operator-receipt", chain.warehouse)).content.decode()
    codes = list(ItemType.objects.filter(election=chain.election).values_list("code", flat=True))
    assert "ss-ppwp" in codes
    for code in codes:
        for field in ("expected", "counted", "damaged"):
            assert f'name="{field}-{code}"' in body
    assert f'value="{ELECTION}"' in body


def test_an_unknown_site_is_404(chain: Chain, operator_okut: User, english: Any) -> None:
    client = english(operator_okut)
    assert (
        client.get(reverse("logistics:operator-pack") + f"?site={uuid.uuid4()}").status_code == 404
    )
    assert client.get(reverse("logistics:operator-pack") + "?site=nope").status_code == 404
    assert client.get(reverse("logistics:operator-pack")).status_code == 404


# --- receipt --------------------------------------------------------------------------------


def receipt_form(form_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "election": ELECTION,
        "vendor": "PT Kertas Musi",
        "delivery_note": "SJ-0777",
        "vehicle_plate": "BG 9 AB",
        "note": "",
        "expected-ss-dpr": "100",
        "counted-ss-dpr": "98",
        "damaged-ss-dpr": "3",
        "counted-tinta": "10",
        **extra,
    }


def test_a_delivery_is_recorded_once_with_its_lines_and_stock(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    form_id = hidden_id(client.get(url("operator-receipt", chain.warehouse)))
    before_dpr, before_ink = stock(chain, "ss-dpr"), stock(chain, "tinta")
    target = url("operator-receipt", chain.warehouse)
    for _ in range(2):
        done = client.post(target, receipt_form(form_id))
        assert done.status_code == 303
        assert done["Location"] == url("operator-home")
    receipt = Receipt.objects.get(pk=form_id)
    assert (receipt.site_id, receipt.vendor, receipt.delivery_note) == (
        chain.warehouse.pk,
        "PT Kertas Musi",
        "SJ-0777",
    )
    lines = {
        line.item.code: (line.expected, line.counted, line.damaged)
        for line in ReceiptLine.objects.filter(receipt=receipt).select_related("item")
    }
    assert lines == {"ss-dpr": (100, 98, 3), "tinta": (10, 10, 0)}
    assert stock(chain, "ss-dpr") == (before_dpr[0] + 95, before_dpr[1] + 3)
    assert stock(chain, "tinta") == (before_ink[0] + 10, before_ink[1])
    assert Receipt.objects.filter(delivery_note="SJ-0777").count() == 1


def test_a_negative_count_is_refused_with_what_was_typed(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    receipts, stocks = Receipt.objects.count(), list(Stock.objects.values_list("quantity"))
    page = client.post(
        url("operator-receipt", chain.warehouse),
        receipt_form(str(uuid.uuid4()), **{"counted-tinta": "-4"}),
    )
    assert page.status_code == 422
    body = text_of(page)
    assert 'id="operator-error"' in body
    assert "Quantities are whole numbers, zero or more." in body
    assert 'value="PT Kertas Musi"' in body
    assert 'value="-4"' in body
    assert Receipt.objects.count() == receipts
    assert list(Stock.objects.values_list("quantity")) == stocks


# --- packing --------------------------------------------------------------------------------


def pack_form(form_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "election": ELECTION,
        "destination": chain_tps1_code(),
        "kind": "box",
        "label": "Kotak 1",
        "quantity-ss-ppwp": "255",
        "quantity-tinta": "2",
        "quantity-ss-dpr": "",
        "seals": "sl-9001\n\n  SL-9002 \n",
        **extra,
    }


def chain_tps1_code() -> str:
    return "tps-16.08.01.1008-001"  # typed in lower case: the code is matched in upper case


def test_a_package_is_packed_once_and_shown(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    form_id = hidden_id(client.get(url("operator-pack", chain.warehouse)))
    before = stock(chain, "ss-ppwp")
    for _ in range(2):
        done = client.post(url("operator-pack", chain.warehouse), pack_form(form_id))
        assert done.status_code == 303
    package = Package.objects.get(pk=form_id)
    assert done["Location"] == reverse("logistics:custody-package", args=[package.code])
    assert (package.destination_id, package.origin_id, package.kind, package.label) == (
        chain.tps1.pk,
        chain.warehouse.pk,
        "box",
        "Kotak 1",
    )
    assert dict(
        PackageLine.objects.filter(package=package).values_list("item__code", "quantity")
    ) == {"ss-ppwp": 255, "tinta": 2}
    assert sorted(Seal.objects.filter(package=package).values_list("serial", flat=True)) == [
        "SL-9001",
        "SL-9002",
    ]
    assert Package.objects.count() == 1
    assert stock(chain, "ss-ppwp") == (before[0] - 255, before[1])


def test_a_reused_seal_is_refused_and_nothing_is_packed(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    pack(chain, operator_okut, chain.tps2, ["SL-9002"])
    before = stock(chain, "ss-ppwp")
    page = english(operator_okut).post(
        url("operator-pack", chain.warehouse), pack_form(str(uuid.uuid4()))
    )
    assert page.status_code == 409
    body = text_of(page)
    assert "A seal serial can be applied only once" in body
    assert 'value="Kotak 1"' in body
    assert "SL-9002" in body
    assert Package.objects.count() == 1
    assert not Seal.objects.filter(serial="SL-9001").exists()
    assert stock(chain, "ss-ppwp") == before


def test_an_unknown_tps_code_is_a_form_error(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    page = english(operator_okut).post(
        url("operator-pack", chain.warehouse),
        pack_form(str(uuid.uuid4()), destination="TPS-NOWHERE"),
    )
    assert page.status_code == 422
    assert "No TPS has the code TPS-NOWHERE." in text_of(page)
    assert Package.objects.count() == 0


# --- dispatching ----------------------------------------------------------------------------


def dispatch_form(form_id: str, packages: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "election": ELECTION,
        "to_site": "ppk-16.08.01",
        "packages": packages,
        "witness1-name": "Bripka Joko",
        "witness1-agency": "polri",
        "witness2-name": "Dewi Pengawas",
        "witness2-agency": "bawaslu",
        "place": "Gudang KPU OKU Timur",
        "vehicle_plate": "BG 1234 XY",
        **extra,
    }


def test_a_handover_is_dispatched_once_and_shown(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SL-0001"], code="PKG-B1").obj
    two = pack(chain, operator_okut, chain.tps2, ["SL-0002"], code="PKG-B2").obj
    client = english(operator_okut)
    form_id = hidden_id(client.get(url("operator-dispatch", chain.warehouse)))
    for _ in range(2):
        done = client.post(
            url("operator-dispatch", chain.warehouse),
            dispatch_form(form_id, "SIAGA-PKG:PKG-B1\r\n pkg-b2 \r\n"),
        )
        assert done.status_code == 303
    handover = Handover.objects.get(pk=form_id)
    assert done["Location"] == reverse("logistics:custody-handover", args=[handover.pk])
    assert (handover.from_site_id, handover.to_site_id, handover.state) == (
        chain.warehouse.pk,
        chain.ppk.pk,
        "dispatched",
    )
    assert Handover.objects.count() == 1
    assert sorted(handover.packages.values_list("package__code", flat=True)) == [
        one.code,
        two.code,
    ]


def test_a_package_for_another_kecamatan_is_refused_as_wrong_destination(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    far = pack(chain, operator_okut, chain.tps_far, ["SL-0009"], code="PKG-FAR").obj
    page = english(operator_okut).post(
        url("operator-dispatch", chain.warehouse), dispatch_form(str(uuid.uuid4()), far.code)
    )
    assert page.status_code == 409
    body = text_of(page)
    assert "Not sent: these packages are not bound for Gudang PPK Martapura." in body
    assert "PKG-FAR is for TPS-16.08.02.2001-001" in body
    assert "Nothing was recorded" in body
    assert ">PKG-FAR</textarea>" in body
    assert 'value="Bripka Joko"' in body
    assert Handover.objects.count() == 0
    assert not Discrepancy.objects.exists()


def test_an_unknown_to_site_is_a_form_error(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    pack(chain, operator_okut, chain.tps1, ["SL-0001"], code="PKG-B1")
    page = english(operator_okut).post(
        url("operator-dispatch", chain.warehouse),
        dispatch_form(str(uuid.uuid4()), "PKG-B1", to_site="PPK-NOWHERE"),
    )
    assert page.status_code == 422
    assert "No site has the code PPK-NOWHERE." in text_of(page)
    assert Handover.objects.count() == 0


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["operator-receipt", "operator-pack", "operator-dispatch"])
def test_another_kabupaten_gets_404_and_writes_nothing(
    chain: Chain, operator_okut: User, kpu_oku: User, english: Any, name: str
) -> None:
    pack(chain, operator_okut, chain.tps1, ["SL-0001"], code="PKG-B1")
    client = english(kpu_oku)
    counts = (Receipt.objects.count(), Package.objects.count(), Handover.objects.count())
    assert client.get(url(name, chain.warehouse)).status_code == 404
    forms = {
        "operator-receipt": receipt_form(str(uuid.uuid4())),
        "operator-pack": pack_form(str(uuid.uuid4())),
        "operator-dispatch": dispatch_form(str(uuid.uuid4()), "PKG-B1"),
    }
    assert client.post(url(name, chain.warehouse), forms[name]).status_code == 404
    assert (Receipt.objects.count(), Package.objects.count(), Handover.objects.count()) == counts


@pytest.mark.parametrize("name", ["operator-receipt", "operator-pack", "operator-dispatch"])
def test_a_reader_who_may_not_record_gets_403_and_writes_nothing(
    chain: Chain, operator_okut: User, bawaslu_okut: User, english: Any, name: str
) -> None:
    pack(chain, operator_okut, chain.tps1, ["SL-0001"], code="PKG-B1")
    client = english(bawaslu_okut)
    counts = (Receipt.objects.count(), Package.objects.count(), Handover.objects.count())
    assert client.get(url(name, chain.warehouse)).status_code == 403
    forms = {
        "operator-receipt": receipt_form(str(uuid.uuid4())),
        "operator-pack": pack_form(str(uuid.uuid4())),
        "operator-dispatch": dispatch_form(str(uuid.uuid4()), "PKG-B1"),
    }
    assert client.post(url(name, chain.warehouse), forms[name]).status_code == 403
    assert (Receipt.objects.count(), Package.objects.count(), Handover.objects.count()) == counts


@pytest.mark.parametrize("name", ["operator-receipt", "operator-pack", "operator-dispatch"])
def test_each_form_speaks_the_default_language_too(
    chain: Chain, operator_okut: User, client_for: Any, name: str
) -> None:
    page = client_for(operator_okut).get(url(name, chain.warehouse))
    assert page.status_code == 200
    assert '<html lang="id">' in page.content.decode()


def test_the_pack_form_suggests_the_tps_the_site_serves(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    body = english(operator_okut).get(url("operator-pack", chain.pps)).content.decode()
    assert f'<option value="{chain.tps1.code}">' in body
    assert f'<option value="{chain.tps2.code}">' in body
    assert chain.tps_far.code not in body

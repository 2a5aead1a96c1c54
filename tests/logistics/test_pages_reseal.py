"""A package opened before witnesses and sealed anew, from its form: once however often it is
posted, its old seals broken and the new ones applied, a short count a shortfall; each refusal
the form again with what was typed and nothing changed; only where the user may record."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.ledger.models import Entry
from siaga.logistics import services
from siaga.logistics.models import Discrepancy, Package, PackageLine, Seal
from tests.logistics.chain import ELECTION, Chain, chain_fixture, pack
from tests.logistics.test_pages_operator import hidden_id, text_of

__all__ = ["chain_fixture"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db


@pytest.fixture(name="package")
def package_fixture(chain: Chain, operator_okut: User) -> Package:
    return pack(chain, operator_okut, chain.tps1, ["SL-0001", "SL-0002"], code="PKG-R1").obj


def url(package: Package) -> str:
    return reverse("logistics:operator-reseal", args=[package.code])


def reseal_form(form_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": form_id,
        "counted-ss-ppwp": "250",
        "counted-tinta": "2",
        "seals": "SL-0101\nsl-0102\n",
        "witness1-name": "Bripka Andi",
        "witness1-agency": "polri",
        "witness2-name": "",
        "witness2-agency": "bawaslu",
        "note": "Segel tidak cocok dengan BAST",
        **extra,
    }


def state() -> tuple[Any, ...]:
    return (
        sorted(Seal.objects.values_list("serial", "state")),
        sorted(PackageLine.objects.values_list("item__code", "quantity")),
        Discrepancy.objects.count(),
        Entry.objects.count(),
    )


def test_the_form_lists_the_contents_and_the_seals_to_break(
    package: Package, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    page = client.get(url(package))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="counted-ss-ppwp" value="255"' in body
    assert 'name="counted-tinta" value="2"' in body
    assert "SL-0001, SL-0002" in body
    assert '<option value="polri" selected>' in body
    assert hidden_id(page) != hidden_id(client.get(url(package)))
    detail = client.get(reverse("logistics:custody-package", args=[package.code]))
    assert f'href="{url(package)}"' in detail.content.decode()


def test_a_reseal_is_recorded_once_with_a_shortfall(
    package: Package, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    form_id = hidden_id(client.get(url(package)))
    for _ in range(2):
        done = client.post(url(package), reseal_form(form_id))
        assert done.status_code == 303
        assert done["Location"] == reverse("logistics:custody-package", args=[package.code])
    seals = dict(Seal.objects.filter(package=package).values_list("serial", "state"))
    assert seals == {
        "SL-0001": "broken",
        "SL-0002": "broken",
        "SL-0101": "applied",
        "SL-0102": "applied",
    }
    lines = dict(PackageLine.objects.filter(package=package).values_list("item__code", "quantity"))
    assert lines == {"ss-ppwp": 250, "tinta": 2}
    short = Discrepancy.objects.filter(package=package)
    assert list(short.values_list("kind", "item__code", "quantity")) == [
        ("shortfall", "ss-ppwp", 5)
    ]
    assert Entry.objects.filter(kind="logistics.package.resealed").count() == 1
    history = text_of(client.get(done["Location"]))
    assert "Opened and sealed anew" in history
    assert "new seals SL-0101, SL-0102; witnesses Bripka Andi (POLRI)" in history


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"seals": "SL-0001"}, 409, "A seal serial can be applied only once"),
        ({"seals": ""}, 422, "Close the package with at least one new seal."),
        ({"seals": "X"}, 422, "A seal serial is 3 to 40 letters, digits or dashes."),
        (
            {"witness1-agency": "kpu"},
            422,
            "A package is opened before a police or Bawaslu witness.",
        ),
        ({"counted-tinta": "-1"}, 422, "Quantities are whole numbers, zero or more."),
        ({"counted-tinta": "dua"}, 422, "Quantities are whole numbers, zero or more."),
        ({"id": "not-an-id"}, 422, "This form has expired; open it again."),
    ],
)
def test_a_refused_reseal_changes_nothing(
    package: Package,
    operator_okut: User,
    english: Any,
    extra: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = state()
    page = english(operator_okut).post(url(package), reseal_form(str(uuid.uuid4()), **extra))
    assert page.status_code == status
    body = text_of(page)
    assert 'id="operator-error"' in body
    assert message in body
    assert 'value="Segel tidak cocok dengan BAST"' in body
    assert state() == before


def test_a_package_on_the_road_is_not_opened(
    chain: Chain, package: Package, operator_okut: User, english: Any
) -> None:
    services.dispatch_handover(
        actor=operator_okut,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=chain.ppk.pk,
        election=ELECTION,
        packages=[package.code],
        witnesses=[services.Witness("Bripka Andi", "polri")],
    )
    before = state()
    client = english(operator_okut)
    page = client.get(url(package))
    assert page.status_code == 409
    assert 'id="reseal-form"' not in page.content.decode()
    posted = client.post(url(package), reseal_form(str(uuid.uuid4())))
    assert posted.status_code == 409
    assert "A package in transit is opened where it arrives" in text_of(posted)
    assert state() == before
    detail = client.get(reverse("logistics:custody-package", args=[package.code]))
    assert 'id="package-reseal"' not in detail.content.decode()


def test_another_kabupaten_gets_404_and_changes_nothing(
    package: Package, kpu_oku: User, english: Any
) -> None:
    client, before = english(kpu_oku), state()
    assert client.get(url(package)).status_code == 404
    assert client.post(url(package), reseal_form(str(uuid.uuid4()))).status_code == 404
    assert state() == before


def test_a_reader_who_may_not_record_gets_403_and_changes_nothing(
    package: Package, bawaslu_okut: User, english: Any
) -> None:
    client, before = english(bawaslu_okut), state()
    assert client.get(url(package)).status_code == 403
    assert client.post(url(package), reseal_form(str(uuid.uuid4()))).status_code == 403
    assert state() == before
    detail = client.get(reverse("logistics:custody-package", args=[package.code]))
    assert detail.status_code == 200
    assert 'id="package-reseal"' not in detail.content.decode()


def test_an_unknown_package_is_404(chain: Chain, operator_okut: User, english: Any) -> None:
    page = english(operator_okut).get(reverse("logistics:operator-reseal", args=["PKG-NONE"]))
    assert page.status_code == 404

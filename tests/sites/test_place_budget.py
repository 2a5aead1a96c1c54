"""Every page that asks for a place stays small for a demo-sized kabupaten (OKU Timur: a
warehouse, 20 PPK stores and some 2,000 TPS): under 200 KB of HTML and at most 100 <option>s,
which a list of every site in scope could not be."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.logistics.services import seed_catalogue
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.conftest import World

HTML_BUDGET = 200_000
OPTIONS_BUDGET = 100
TPS_COUNT = 600


@pytest.fixture
def crowded(world: World) -> World:
    unit = world.units["kpu:16.08"]
    stores = [
        Site(
            code=f"PPK-16.08.{n:02d}",
            name=f"Gudang PPK Kecamatan {n:02d}",
            kind=SiteKind.PPK,
            region_id="16.08.01",
            owner_unit=unit,
        )
        for n in range(1, 21)
    ]
    polling = [
        Site(
            code=f"TPS-16.08.01.1008-{n:04d}",
            name=f"TPS {n:04d} Desa Pandan Jaya",
            kind=SiteKind.TPS,
            region_id="16.08.01.1008",
            owner_unit=unit,
        )
        for n in range(1, TPS_COUNT + 1)
    ]
    Site.objects.bulk_create([*stores, *polling])
    seed_catalogue()
    return world


def _within_budget(response: Any) -> str:
    assert response.status_code == 200
    assert len(response.content) < HTML_BUDGET
    html: str = response.content.decode()
    assert len(re.findall(r"<option\b", html)) <= OPTIONS_BUDGET
    return html


def test_gate_landing_is_small(client_for: Any, crowded: World, guard_okut: User) -> None:
    html = _within_budget(client_for(guard_okut).get(reverse("access:gate")))
    assert 'id="chooser-site"' in html


def test_walk_in_without_a_site_is_small(client_for: Any, crowded: World, guard_okut: User) -> None:
    _within_budget(client_for(guard_okut).get(reverse("access:walk_in")))


def test_report_page_is_small(client_for: Any, crowded: World, guard_okut: User) -> None:
    html = _within_budget(client_for(guard_okut).get(reverse("incidents:report")))
    assert html.count('name="site"') <= 1 + 10  # "not at a site" and the post


@pytest.mark.parametrize("form", ["operator-receipt", "operator-pack", "operator-dispatch"])
def test_operator_forms_are_small(
    client_for: Any, crowded: World, operator_okut: User, form: str
) -> None:
    address = f"{reverse(f'logistics:{form}')}?site={crowded.warehouse_okut.pk}"
    _within_budget(client_for(operator_okut).get(address))


def test_operator_index_puts_the_warehouse_first(
    client_for: Any, crowded: World, operator_okut: User
) -> None:
    html = _within_budget(client_for(operator_okut).get(reverse("logistics:operator-home")))
    listed = re.findall(r'<li class="list-group-item px-2" data-site="([^"]+)"', html)
    assert listed[0] == str(crowded.warehouse_okut.pk)
    assert len(listed) == 10


def test_operator_index_opens_a_searched_site_first(
    client_for: Any, crowded: World, operator_okut: User
) -> None:
    client = client_for(operator_okut)
    found = client.get(reverse("logistics:operator-home"), {"site_q": "PPK-16.08.20"})
    store = Site.objects.get(code="PPK-16.08.20")
    assert f"?site={store.pk}" in found.content.decode()
    opened = client.get(reverse("logistics:operator-home"), {"site": store.pk})
    listed = re.findall(r'data-site="([^"]+)"', opened.content.decode())
    assert listed[0] == str(store.pk)
    other = client.get(reverse("logistics:operator-home"), {"site": crowded.warehouse_oku.pk})
    assert other.status_code == 404

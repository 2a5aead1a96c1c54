"""The one place chooser: the post first, search over the scope, nearest, remembered."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.sites import chooser
from siaga.sites.choices import SiteKind
from siaga.sites.models import ChosenSite, Site
from tests.conftest import World

URL = reverse("sites:chooser")


def _tps(
    world: World, code: str, name: str, *, region: str = "16.08.01.1008", **extra: Any
) -> Site:
    unit = world.units["kpu:16.08" if region.startswith("16.08") else "kpu:16.01"]
    return Site.objects.create(
        code=code, name=name, kind=SiteKind.TPS, region_id=region, owner_unit=unit, **extra
    )


@pytest.fixture
def tps_pair(world: World) -> tuple[Site, Site]:
    ours = _tps(world, "TPS-16.08.01.1008-001", "TPS 001 Desa Pandan")
    theirs = _tps(world, "TPS-16.01.14.2001-001", "TPS 001 Desa Pandan", region="16.01.14")
    return ours, theirs


def _codes(response: Any) -> list[str]:
    return re.findall(r'font-monospace">([^<]+)<', response.content.decode())


def test_search_by_name_never_shows_another_kabupaten(
    client_for: Any, guard_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    response = client_for(guard_okut).get(URL, {"purpose": "gate", "q": "pandan"})
    assert response.status_code == 200
    assert _codes(response) == ["TPS-16.08.01.1008-001"]


def test_search_by_code_puts_the_exact_code_first(
    client_for: Any, guard_okut: User, world: World
) -> None:
    _tps(world, "TPS-16.08.01.1008-0010", "TPS 010 Desa Pandan")
    _tps(world, "TPS-16.08.01.1008-001", "TPS 001 Desa Pandan")
    response = client_for(guard_okut).get(URL, {"purpose": "gate", "q": "tps-16.08.01.1008-001"})
    assert _codes(response) == ["TPS-16.08.01.1008-001", "TPS-16.08.01.1008-0010"]


def test_search_answers_at_most_twenty(client_for: Any, guard_okut: User, world: World) -> None:
    for n in range(30):
        _tps(world, f"TPS-16.08.01.1008-{n:03d}", f"TPS {n:03d} Desa Pandan")
    response = client_for(guard_okut).get(URL, {"purpose": "gate", "q": "pandan"})
    assert len(_codes(response)) == chooser.RESULTS_LIMIT


def test_datalist_mode_answers_options_by_code(
    client_for: Any, operator_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    response = client_for(operator_okut).get(
        URL, {"purpose": "tps", "mode": "datalist", "field": "destination", "destination": "001"}
    )
    assert response.content.decode().strip() == (
        '<option value="TPS-16.08.01.1008-001">TPS 001 Desa Pandan</option>'
    )


def test_post_is_the_sites_of_the_users_unit_without_its_tps(
    operator_okut: User, guard_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    assert [s.code for s in chooser.post_sites(operator_okut, "gate")] == ["GUDANG-16.08"]
    # The guard's unit (Polri) owns no site: their post is where they choose.
    assert chooser.post_sites(guard_okut, "gate") == []


def test_remembered_choice_comes_first(
    client_for: Any, operator_okut: User, world: World, tps_pair: tuple[Site, Site]
) -> None:
    ours, _theirs = tps_pair
    client_for(operator_okut).get(reverse("access:gate"), {"site": ours.pk})
    assert ChosenSite.objects.get(user=operator_okut, purpose="gate").site == ours
    assert [s.code for s in chooser.post_sites(operator_okut, "gate")] == [
        "TPS-16.08.01.1008-001",
        "GUDANG-16.08",
    ]


def test_gate_page_opens_on_the_remembered_site(
    client_for: Any, guard_okut: User, world: World
) -> None:
    _tps(world, "TPS-16.08.01.1008-001", "TPS 001 Desa Pandan")
    client = client_for(guard_okut)
    client.get(reverse("access:gate"), {"site": world.warehouse_okut.pk})
    response = client.get(reverse("access:gate"))
    assert response.context["site"] == world.warehouse_okut
    chosen_again = client.get(reverse("access:gate"), {"choose": "1"})
    assert chosen_again.context["site"] is None
    assert chosen_again.context["chooser"].post == [world.warehouse_okut]


def test_remembered_site_out_of_scope_is_not_offered(guard_okut: User, world: World) -> None:
    ChosenSite.objects.create(user=guard_okut, purpose="gate", site=world.warehouse_oku)
    assert chooser.remembered(guard_okut, "gate") is None
    assert world.warehouse_oku not in chooser.post_sites(guard_okut, "gate")


def test_nearest_sites_by_location(client_for: Any, guard_okut: User, world: World) -> None:
    _tps(world, "TPS-NEAR", "TPS dekat", latitude=Decimal("-4.3180"), longitude=Decimal("104.3540"))
    _tps(world, "TPS-FAR", "TPS jauh", latitude=Decimal("-4.9000"), longitude=Decimal("104.9000"))
    response = client_for(guard_okut).get(
        URL, {"purpose": "report", "mode": "radio", "lat": "-4.3181", "lon": "104.3541"}
    )
    assert response.status_code == 200
    assert _codes(response) == ["TPS-NEAR", "GUDANG-16.08", "TPS-FAR"]
    assert 'data-km="0.0' in response.content.decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"purpose": "nothing"}, "chooser_purpose_unknown"),
        ({"purpose": "gate", "mode": "table"}, "chooser_mode_unknown"),
        ({"purpose": "gate", "field": "x y"}, "chooser_field_invalid"),
        ({"purpose": "gate", "q": "x" * 81}, "chooser_query_too_long"),
        ({"purpose": "gate", "lat": "north", "lon": "104"}, "coordinates_invalid"),
        ({"purpose": "gate", "lat": "NaN", "lon": "104"}, "coordinates_invalid"),
        ({"purpose": "gate", "lat": "52.1", "lon": "4.3"}, "coordinates_outside"),
    ],
)
def test_bad_input_is_a_clear_422(
    client_for: Any, guard_okut: User, params: dict[str, str], code: str
) -> None:
    response = client_for(guard_okut).get(URL, params)
    assert response.status_code == 422
    assert f'data-code="{code}"' in response.content.decode()


def test_anonymous_is_sent_to_sign_in(client: Any, db: None) -> None:
    response = client.get(URL, {"purpose": "gate", "q": "gudang"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_gate_search_works_without_script(
    client_for: Any, guard_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    ours, theirs = tps_pair
    response = client_for(guard_okut).get(reverse("access:gate"), {"site_q": "pandan"})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/gerbang/?site={ours.pk}"' in html
    assert str(theirs.pk) not in html


def test_report_search_works_without_script_and_keeps_what_was_typed(
    client_for: Any, guard_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    ours, theirs = tps_pair
    response = client_for(guard_okut).get(
        reverse("incidents:report"),
        {"category": "banjir", "site_q": "pandan", "site_search": "1", "description": "Air naik"},
    )
    html = response.content.decode()
    assert f'type="radio" name="site" value="{ours.pk}"' in html
    assert str(theirs.pk) not in html
    assert ">Air naik</textarea>" in html


def test_gate_page_without_a_site_links_the_log(
    client_for: Any, bawaslu_okut: User, tps_pair: tuple[Site, Site]
) -> None:
    html = client_for(bawaslu_okut).get(reverse("access:gate")).content.decode()
    assert re.search(r'href="/gerbang/log/" id="gate-log-link"', html)

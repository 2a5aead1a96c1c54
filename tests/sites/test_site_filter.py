"""A list's site filter: a short select while few sites hold something to list, a code field
with the chooser's suggestions once they are many — never hundreds of <option>s — and a typed
code that names no site in scope lists nothing and says so."""

from __future__ import annotations

import re
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms import services as alarms
from siaga.alarms.models import Alarm
from siaga.sites import chooser
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.conftest import World

pytestmark = pytest.mark.django_db


def alarm_at(site: Site, key: str) -> Alarm:
    return alarms.raise_alarm(
        source="cctv",
        key=key,
        kind="camera_offline",
        site=site,
        severity="warning",
        message=f"Kamera {key} mati",
    )


def alarm_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-alarm="([0-9a-f-]+)"', html)


def polling_stations(world: World, count: int) -> list[Site]:
    unit = world.units["kpu:16.08"]
    return Site.objects.bulk_create(
        Site(
            code=f"TPS-16.08.01.1008-{n:04d}",
            name=f"TPS {n:04d} Desa Pandan Jaya",
            kind=SiteKind.TPS,
            region_id="16.08.01.1008",
            owner_unit=unit,
        )
        for n in range(1, count + 1)
    )


def test_few_sites_are_a_select(client_for: Any, world: World, operator_okut: User) -> None:
    alarm_at(world.warehouse_okut, "cam-1")
    html = client_for(operator_okut).get("/alarm/").content.decode()
    select = html.split('id="f-site"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', select) == ["", str(world.warehouse_okut.pk)]
    assert 'name="site_code"' not in html


def test_many_sites_are_a_code_field(client_for: Any, world: World, operator_okut: User) -> None:
    stations = polling_stations(world, chooser.FILTER_OPTIONS + 10)
    raised = {site.code: alarm_at(site, site.code) for site in stations}
    client = client_for(operator_okut)
    html = client.get("/alarm/").content.decode()
    assert 'name="site_code"' in html and 'id="f-site"' not in html
    assert len(re.findall(r"<option\b", html)) < 30
    assert len(alarm_rows(html)) == len(stations)
    # The code as typed (any case, spaces around) finds the site; its alarms only.
    wanted = stations[17]
    html = client.get("/alarm/", {"site_code": f"  {wanted.code.lower()} "}).content.decode()
    assert alarm_rows(html) == [str(raised[wanted.code].pk)]
    assert f'value="{wanted.code.lower()}"' in html
    # An empty code is every site again.
    assert len(alarm_rows(client.get("/alarm/", {"site_code": ""}).content.decode())) == len(
        stations
    )


def test_a_code_outside_the_scope_lists_nothing_and_says_why(
    client_for: Any, world: World, operator_okut: User
) -> None:
    alarm_at(world.warehouse_okut, "cam-1")
    alarm_at(world.warehouse_oku, "cam-2")
    client = client_for(operator_okut)
    for code in (world.warehouse_oku.code, "TIDAK-ADA", "<script>x</script>"):
        response = client.get("/alarm/", {"site_code": code})
        html = response.content.decode()
        assert response.status_code == 200
        assert alarm_rows(html) == []
        assert 'data-code="site_filter_unknown"' in html
        assert "<script>x</script>" not in html


@pytest.mark.parametrize(
    "address",
    [
        "/insiden/",
        "/alarm/",
        "/gerbang/log/",
        "/gerbang/pass/",
        "/logistik/custody/handovers/",
        "/logistik/custody/discrepancies/",
        "/logistik/custody/sorting/",
    ],
)
def test_every_list_reads_a_typed_code(
    client_for: Any, world: World, operator_okut: User, address: str
) -> None:
    client = client_for(operator_okut)
    known = client.get(address, {"site_code": world.warehouse_okut.code})
    unknown = client.get(address, {"site_code": "TIDAK-ADA-SAMA-SEKALI"})
    assert known.status_code == 200 and unknown.status_code == 200
    assert 'data-code="site_filter_unknown"' not in known.content.decode()
    assert "TIDAK-ADA-SAMA-SEKALI" in unknown.content.decode()

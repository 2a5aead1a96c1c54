"""The site safety page: chosen through the place chooser, made of registered panels in
their order (alarms first), the equipment panel's lists and forms, and the equipment pages'
refusals shown with their code, never as a 500."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms import services as alarms
from siaga.safety import panels
from siaga.safety.models import Equipment, ServiceRecord
from siaga.sites.models import ChosenSite
from tests.conftest import World
from tests.safety.conftest import state

pytestmark = pytest.mark.django_db


def order(html: str) -> list[str]:
    return re.findall(
        r'<section class="mb-4 safety-panel" id="panel-[^"]+" data-panel="([^"]+)"', html
    )


@pytest.fixture
def extra_panels(settings: Any) -> Iterator[None]:
    """Stand-ins for other apps' panels in place of the real ones (put back afterwards)."""
    kept = dict(panels.PANELS)
    for name in list(panels.PANELS):
        if name not in ("alarms", "equipment"):
            del panels.PANELS[name]
    templates = [dict(engine) for engine in settings.TEMPLATES]
    templates[0]["DIRS"] = [Path(__file__).parent / "templates"]
    settings.TEMPLATES = templates
    panels.register(
        panels.Panel(
            "warnings",
            panels.ORDER_WARNINGS,
            "safety/tests/_plain_panel.html",
            lambda site, user: {"text": f"Peringatan hujan lebat untuk {site.code}"},
        )
    )
    panels.register(
        panels.Panel(
            "readings",
            panels.ORDER_READINGS,
            "safety/tests/_plain_panel.html",
            lambda site, user: {"text": "Kelembapan Gudang A 71%"},
        )
    )
    panels.register(
        panels.Panel("hidden", 25, "safety/tests/_plain_panel.html", lambda site, user: None)
    )

    def broken(site: Any, user: Any) -> dict[str, Any]:
        raise RuntimeError("the sensor database is away")

    panels.register(panels.Panel("broken", 35, "safety/tests/_plain_panel.html", broken))
    yield
    panels.PANELS.clear()
    panels.PANELS.update(kept)


def test_the_menu_and_the_site_page_link_the_safety_page(
    client_for: Any, operator_okut: User, world: World
) -> None:
    site_page = client_for(operator_okut).get(f"/sites/{world.warehouse_okut.pk}/")
    assert f'href="/keselamatan/{world.warehouse_okut.pk}/" id="site-safety-link"' in (
        site_page.content.decode()
    )
    assert 'href="/keselamatan/"' in site_page.content.decode()


def test_the_chooser_opens_the_site_and_remembers_it(
    client_for: Any, guard_okut: User, world: World
) -> None:
    client = client_for(guard_okut)
    page = client.get("/keselamatan/")
    assert page.status_code == 200
    assert 'data-purpose="safety"' in page.content.decode()
    # A guard owns no site: the search finds it (OKU's warehouse is out of scope).
    found = client.get("/keselamatan/?site_q=Gudang").content.decode()
    assert f"/keselamatan/?site={world.warehouse_okut.pk}" in found
    assert str(world.warehouse_oku.pk) not in found
    chosen = client.get(f"/keselamatan/?site={world.warehouse_okut.pk}")
    assert chosen.status_code == 302
    assert chosen["Location"] == f"/keselamatan/{world.warehouse_okut.pk}/"
    client.get(chosen["Location"])
    assert ChosenSite.objects.get(user=guard_okut, purpose="safety").site == world.warehouse_okut
    again = client.get("/keselamatan/")
    assert again["Location"] == f"/keselamatan/{world.warehouse_okut.pk}/"
    assert client.get("/keselamatan/?choose=1").status_code == 200
    assert client.get(f"/keselamatan/?site={world.warehouse_oku.pk}").status_code == 404


def test_panels_show_in_their_order_and_a_failing_one_does_not_take_the_page_down(
    client_for: Any, operator_okut: User, world: World, extra_panels: None
) -> None:
    alarms.raise_alarm(
        source="hazards",
        key="sensor:WL-B-01",
        kind="water_leak",
        site=world.warehouse_okut,
        severity="major",
        message="Sensor WL-B-01 basah",
    )
    page = client_for(operator_okut).get(f"/keselamatan/{world.warehouse_okut.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert order(html) == ["alarms", "readings", "warnings", "broken", "equipment"]
    assert 'data-panel-failed="broken"' in html
    assert "Sensor WL-B-01 basah" in html
    assert "Peringatan hujan lebat untuk GUDANG-16.08" in html
    assert 'hx-get="/keselamatan/' in html  # the alarms refresh themselves
    fragment = client_for(operator_okut).get(
        f"/keselamatan/{world.warehouse_okut.pk}/panel/alarms/"
    )
    assert fragment.status_code == 200
    assert "Sensor WL-B-01 basah" in fragment.content.decode()
    unknown = client_for(operator_okut).get(
        f"/keselamatan/{world.warehouse_okut.pk}/panel/nothing/"
    )
    assert unknown.status_code == 404


def test_the_equipment_panel_lists_overdue_due_soon_and_every_item_per_zone(
    client_for: Any, operator_okut: User, apar: Any, world: World, today: dt.date
) -> None:
    expired = apar(serial="APAR-EXP", installed_on=today - dt.timedelta(days=2000), expiry_in=-3)
    soon = apar(serial="APAR-SOON", expiry_in=10, service_in=None)
    fine = apar(serial="APAR-FINE", zone_id=None)
    html = (
        client_for(operator_okut).get(f"/keselamatan/{world.warehouse_okut.pk}/").content.decode()
    )
    overdue = html.split('id="equipment-overdue"')[1].split("</ul>")[0]
    due_soon = html.split('id="equipment-due-soon"')[1].split("</ul>")[0]
    assert str(expired.pk) in overdue and str(soon.pk) not in overdue
    assert str(soon.pk) in due_soon and str(fine.pk) not in due_soon
    table = html.split('id="equipment-all"')[1].split("</table>")[0]
    assert re.findall(r'data-equipment="([^"]+)"', table) == [
        str(expired.pk),
        str(soon.pk),
        str(fine.pk),
    ]
    assert 'id="equipment-add"' in html
    assert f'action="/keselamatan/peralatan/{soon.pk}/servis/"' in html
    # The expired APAR's alarm is at the top.
    assert "APAR-EXP" in html.split('id="panel-alarms"')[1].split("</section>")[0]


def test_bawaslu_reads_the_page_without_forms(
    client_for: Any, bawaslu_okut: User, apar: Any, world: World
) -> None:
    item = apar(expiry_in=10, service_in=None)
    html = client_for(bawaslu_okut).get(f"/keselamatan/{world.warehouse_okut.pk}/").content.decode()
    assert str(item.pk) in html
    assert 'id="equipment-add"' not in html
    assert "/servis/" not in html
    assert (
        client_for(bawaslu_okut)
        .get(f"/keselamatan/{world.warehouse_okut.pk}/peralatan/baru/")
        .status_code
        == 403
    )


def test_adding_through_the_page_and_a_refusal_shows_its_code(
    client_for: Any, operator_okut: User, world: World, today: dt.date
) -> None:
    client = client_for(operator_okut)
    url = f"/keselamatan/{world.warehouse_okut.pk}/peralatan/baru/"
    form = {
        "add-id": str(uuid.uuid4()),
        "add-kind": "fire_extinguisher",
        "add-variant": "powder",
        "add-size_kg": "6",
        "add-zone": str(world.hall_a_okut.pk),
        "add-installed_on": today.isoformat(),
        "add-expiry_on": (today - dt.timedelta(days=1)).isoformat(),
        "add-responsible": str(operator_okut.pk),
    }
    before = state()
    refused = client.post(url, form)
    assert refused.status_code == 422
    assert 'data-code="equipment_expiry_before_installation"' in refused.content.decode()
    assert state() == before
    shape = client.post(url, {**form, "add-installed_on": "kemarin"})
    assert shape.status_code == 422
    assert 'data-field="installed_on"' in shape.content.decode()
    assert state() == before
    form["add-expiry_on"] = (today + dt.timedelta(days=1800)).isoformat()
    done = client.post(url, form)
    assert done.status_code == 302
    assert done["Location"] == f"/keselamatan/{world.warehouse_okut.pk}/"
    assert Equipment.objects.get(pk=form["add-id"]).size_kg == 6
    assert client.post(url, form).status_code == 302  # a double submit: the same item
    assert Equipment.objects.count() == 1


def test_recording_a_service_from_the_page(
    client_for: Any, guard_okut: User, apar: Any, world: World, today: dt.date
) -> None:
    item = apar(expiry_in=400, service_in=3)
    client = client_for(guard_okut)
    url = f"/keselamatan/peralatan/{item.pk}/servis/"
    form = {
        "service-id": str(uuid.uuid4()),
        "service-performed_on": (today + dt.timedelta(days=1)).isoformat(),
        "service-work": "inspection",
        "service-next_service_on": (today + dt.timedelta(days=180)).isoformat(),
        "next": "site",
    }
    before = state()
    future = client.post(url, form)
    assert future.status_code == 422
    assert 'data-code="service_in_future"' in future.content.decode()
    assert state() == before
    form["service-performed_on"] = today.isoformat()
    done = client.post(url, form)
    assert done.status_code == 302
    assert done["Location"] == f"/keselamatan/{world.warehouse_okut.pk}/"
    assert ServiceRecord.objects.get(pk=form["service-id"]).recorded_by == guard_okut
    item.refresh_from_db()
    assert item.next_service_on == today + dt.timedelta(days=180)
    detail = client.get(f"/keselamatan/peralatan/{item.pk}/").content.decode()
    assert f'data-service="{form["service-id"]}"' in detail


def test_changing_an_item_from_its_page(
    client_for: Any, operator_okut: User, guard_okut: User, apar: Any, today: dt.date
) -> None:
    item = apar()
    url = f"/keselamatan/peralatan/{item.pk}/"
    form = {
        "change-state": "out_of_service",
        "change-zone": "",
        "change-location": "Gudang (diperbaiki)",
        "change-expiry_on": item.expiry_on.isoformat(),
        "change-next_service_on": item.next_service_on.isoformat(),
        "change-responsible": str(operator_okut.pk),
    }
    before = state()
    refused = client_for(guard_okut).post(url, form)
    assert refused.status_code == 403
    assert 'data-code="safety_not_allowed"' in refused.content.decode()
    assert state() == before
    done = client_for(operator_okut).post(url, form)
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.state, item.zone, item.location) == ("out_of_service", None, "Gudang (diperbaiki)")


def test_the_page_costs_the_same_queries_for_3_or_30_items(
    client_for: Any, operator_okut: User, apar: Any, world: World
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(operator_okut)
    url = f"/keselamatan/{world.warehouse_okut.pk}/"
    counts = []
    for n in (3, 27):
        for _ in range(n):
            apar(expiry_in=10, service_in=None)
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts

"""The alarm console: scoped to the kabupaten or one site, active and worst first, refreshed by
htmx, and acknowledging and clearing through the services — refused for Bawaslu."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from siaga.accounts.models import User
from siaga.alarms import services
from siaga.alarms.models import Alarm
from siaga.ledger.models import Entry
from siaga.sites.models import Site
from tests.conftest import World

pytestmark = pytest.mark.django_db


def alarm(
    site: Site,
    key: str,
    *,
    kind: str = "camera_offline",
    severity: str = "warning",
    message: str = "Kamera CCTV-01 mati",
    source: str = "cctv",
) -> Alarm:
    return services.raise_alarm(
        source=source, key=key, kind=kind, site=site, severity=severity, message=message
    )


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-alarm="([0-9a-f-]+)"', html)


def frozen(item: Alarm) -> tuple[Any, ...]:
    row = Alarm.objects.filter(pk=item.pk).values().get()
    return row, Entry.objects.filter(subject_type="alarms.alarm", subject_id=str(item.pk)).count()


def test_console_shows_the_kabupatens_alarms_active_and_worst_first(
    client_for: Any, world: World, operator_okut: User, kpu_oku: User
) -> None:
    cleared = alarm(world.warehouse_okut, "cam-1", message="Kamera gerbang mati")
    services.clear_alarm(source="cctv", key="cam-1")
    minor = alarm(world.warehouse_okut, "cam-2", message="Kamera gudang mati")
    worst = alarm(
        world.warehouse_okut,
        "leak-1",
        source="hazards",
        kind="water_leak",
        severity="critical",
        message="Sensor kebocoran air basah",
    )
    theirs = alarm(world.warehouse_oku, "cam-oku", message="Kamera OKU mati")
    response = client_for(operator_okut).get("/alarm/")
    assert response.status_code == 200
    html = response.content.decode()
    assert rows(html) == [str(worst.pk), str(minor.pk), str(cleared.pk)]
    assert "Kamera OKU mati" not in html and str(theirs.pk) not in html
    assert 'id="alarm-active-count">2<' in html and 'id="alarm-unack-count">2<' in html
    # The leak opened an incident (default policy): the console links it.
    worst.refresh_from_db()
    assert worst.incident is not None
    assert f'href="/insiden/{worst.incident.pk}/">{worst.incident.reference}<' in html
    # The neighbour sees only its own.
    other = client_for(kpu_oku).get("/alarm/").content.decode()
    assert rows(other) == [str(theirs.pk)]
    assert "Gudang Logistik KPU OKU Timur" not in other


def test_console_per_site_and_filters(
    client_for: Any, world: World, operator_okut: User, kpu_oku: User
) -> None:
    ours = alarm(world.warehouse_okut, "cam-1")
    acknowledged = alarm(world.warehouse_okut, "cam-2")
    services.acknowledge_alarm(actor=operator_okut, alarm_id=acknowledged.pk)
    client = client_for(operator_okut)
    html = client.get(f"/alarm/?site={world.warehouse_okut.pk}").content.decode()
    assert set(rows(html)) == {str(ours.pk), str(acknowledged.pk)}
    assert "Gudang Logistik KPU OKU Timur" in html
    assert rows(client.get("/alarm/?show=unacknowledged").content.decode()) == [str(ours.pk)]
    assert set(rows(client.get("/alarm/?show=active&site=bad").content.decode())) == {
        str(ours.pk),
        str(acknowledged.pk),
    }
    # Another kabupaten's site, or none at all: not found.
    assert client_for(kpu_oku).get(f"/alarm/?site={world.warehouse_okut.pk}").status_code == 404
    assert client.get(f"/alarm/?site={uuid.uuid4()}").status_code == 404


def test_htmx_refresh_answers_the_table_only_and_keeps_polling(
    client_for: Any, world: World, operator_okut: User
) -> None:
    alarm(world.warehouse_okut, "cam-1")
    url = f"/alarm/?site={world.warehouse_okut.pk}&show=active"
    response = client_for(operator_okut).get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.startswith('<div id="alarm-table"')
    assert 'hx-trigger="every 15s"' in html
    assert f'hx-get="{url.replace("&", "&amp;")}"' in html
    full = client_for(operator_okut).get("/alarm/").content.decode()
    assert 'hx-trigger="every 15s"' in full


def test_acknowledge_and_clear_from_the_console(
    client_for: Any, world: World, operator_okut: User
) -> None:
    item = alarm(world.warehouse_okut, "cam-1")
    client = client_for(operator_okut)
    site = str(world.warehouse_okut.pk)
    response = client.post(f"/alarm/{item.pk}/terima/", {"site": site, "show": "active"})
    assert response.status_code == 302
    assert response["Location"] == f"/alarm/?site={site}&show=active"
    item.refresh_from_db()
    assert item.acknowledged_by == operator_okut and item.active
    response = client.post(f"/alarm/{item.pk}/padamkan/", {"site": "javascript:alert(1)"})
    assert response["Location"] == "/alarm/"
    item.refresh_from_db()
    assert not item.active and item.cleared_by == operator_okut
    kinds = list(
        Entry.objects.filter(subject_type="alarms.alarm", subject_id=str(item.pk))
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == ["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    html = client.get("/alarm/").content.decode()
    assert f'action="/alarm/{item.pk}/terima/"' not in html
    assert f'action="/alarm/{item.pk}/padamkan/"' not in html


def test_bawaslu_sees_the_console_but_cannot_acknowledge_or_clear(
    client_for: Any, world: World, bawaslu_okut: User
) -> None:
    item = alarm(world.warehouse_okut, "cam-1")
    before = frozen(item)
    client = client_for(bawaslu_okut)
    html = client.get("/alarm/").content.decode()
    assert rows(html) == [str(item.pk)]
    assert "/terima/" not in html and "/padamkan/" not in html
    for action in ["terima", "padamkan"]:
        response = client.post(f"/alarm/{item.pk}/{action}/", follow=True)
        assert response.status_code == 200
        assert 'class="alert alert-danger"' in response.content.decode()
        assert frozen(item) == before


def test_another_kabupaten_gets_404_and_changes_nothing(
    client_for: Any, world: World, kpu_oku: User
) -> None:
    item = alarm(world.warehouse_okut, "cam-1")
    before = frozen(item)
    client = client_for(kpu_oku)
    for action in ["terima", "padamkan"]:
        assert client.post(f"/alarm/{item.pk}/{action}/").status_code == 404
        assert client.get(f"/alarm/{item.pk}/{action}/").status_code == 405
    assert frozen(item) == before


def test_console_costs_the_same_queries_for_3_or_30_alarms(
    client_for: Any, world: World, operator_okut: User
) -> None:
    client = client_for(operator_okut)

    def add(start: int, n: int) -> None:
        for i in range(start, start + n):
            raised = alarm(
                world.warehouse_okut,
                f"sensor-{i}",
                source="hazards",
                kind="water_leak" if i % 5 == 0 else "humidity_high",
                severity=["critical", "major", "minor", "warning"][i % 4],
                message=f"Sensor {i}",
            )
            if i % 3 == 0:
                services.acknowledge_alarm(actor=operator_okut, alarm_id=raised.pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/alarm/").status_code == 200
        return len(captured)

    add(0, 3)
    few = queries()
    add(3, 27)
    assert queries() == few
    assert Alarm.objects.filter(incident__isnull=False).count() > 1

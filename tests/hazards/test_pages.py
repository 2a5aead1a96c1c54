"""The sensor page with its chart, the safety page's hazards panel, and the read API, each
limited to the user's region."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from siaga.accounts.models import User
from siaga.hazards import panel, services
from siaga.hazards.services.watch import mark_silent, rollup
from tests.conftest import World
from tests.hazards.conftest import Hall

pytestmark = pytest.mark.django_db


def day_of_humidity(hall: Hall) -> None:
    now = timezone.now()
    services.ingest(
        [
            services.Message(
                "HUM-A-01",
                {
                    "id": f"h{n}",
                    "value": 70 + n % 10,
                    "at": (now - timedelta(minutes=15 * n)).isoformat(),
                },
            )
            for n in range(96)
        ],
        channel="http",
        site=hall.humidity.site,
        now=now,
    )


def test_the_sensor_page_draws_its_chart_with_the_threshold(
    hall: Hall, client_for: Any, operator_okut: User
) -> None:
    day_of_humidity(hall)
    page = client_for(operator_okut).get(f"/bahaya/sensor/{hall.humidity.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "<polyline" in html
    assert "80" in html  # the humidity rule's threshold, marked on the chart
    assert "HUM-A-01" in html


def test_the_sensor_page_is_not_found_for_another_kabupaten(
    hall: Hall, client_for: Any, kpu_oku: User
) -> None:
    assert client_for(kpu_oku).get(f"/bahaya/sensor/{hall.humidity.pk}/").status_code == 404
    assert client_for(kpu_oku).get(f"/api/v1/hazards/sensors/{hall.humidity.pk}").status_code == 404


def test_the_panel_shows_readings_per_zone_alarms_and_silent_sensors(
    hall: Hall, world: World, operator_okut: User, kpu_oku: User
) -> None:
    day_of_humidity(hall)
    services.ingest(
        [services.Message("WL-A-01", {"id": "w1", "value": True})],
        channel="http",
        site=world.warehouse_okut,
    )
    mark_silent(timezone.now() + timedelta(hours=1))
    context = panel.context(world.warehouse_okut, operator_okut)
    assert context is not None
    [hall_a] = context["hazards_zones"]
    assert hall_a.zone == world.hall_a_okut
    assert {row.sensor.device_id for row in hall_a.rows} == {
        "HUM-A-01",
        "WL-A-01",
        "DOOR-A-01",
        "TMP-A-01",
    }
    kinds = sorted(a.kind for a in context["hazards_alarms"])
    assert kinds == ["sensor_silent"] * 4 + ["water_leak"]
    silent = {s.device_id for s in context["hazards_silent"]}
    assert silent == {"DOOR-A-01", "TMP-A-01", "HUM-A-01", "WL-A-01"}
    html = render_to_string("hazards/_safety_panel.html", context)
    assert "<svg" in html and "HUM-A-01" in html
    assert panel.context(world.warehouse_okut, kpu_oku) is None


def test_the_site_safety_page_shows_the_sensors_panel_and_refreshes_it(
    hall: Hall, client_for: Any, operator_okut: User, world: World
) -> None:
    day_of_humidity(hall)
    client = client_for(operator_okut)
    page = client.get(f"/keselamatan/{world.warehouse_okut.pk}/").content.decode()
    assert 'data-panel="readings"' in page and "HUM-A-01" in page
    # Above the equipment, below the alarms of every source.
    assert page.index('data-panel="alarms"') < page.index('data-panel="readings"')
    assert page.index('data-panel="readings"') < page.index('data-panel="equipment"')
    fragment = client.get(f"/keselamatan/{world.warehouse_okut.pk}/panel/readings/")
    assert fragment.status_code == 200
    assert "HUM-A-01" in fragment.content.decode()


def test_the_api_gives_sensors_state_rules_readings_aggregates_and_counters(
    hall: Hall, client_for: Any, bawaslu_okut: User
) -> None:
    day_of_humidity(hall)
    services.ingest(
        [services.Message("HUM-A-01", {"id": "bad", "value": 150})],
        channel="http",
        site=hall.humidity.site,
    )
    rollup()
    client = client_for(bawaslu_okut)
    site = hall.humidity.site_id
    sensors = client.get(f"/api/v1/hazards/sites/{site}/sensors").json()
    assert sorted(s["device_id"] for s in sensors) == [
        "DOOR-A-01",
        "HUM-A-01",
        "TMP-A-01",
        "WL-A-01",
    ]
    detail = client.get(f"/api/v1/hazards/sensors/{hall.humidity.pk}").json()
    assert detail["status"] == "online"
    assert {r["alarm_kind"] for r in detail["rules"]} == {"humidity_high", "sensor_silent"}
    since = (timezone.now() - timedelta(hours=25)).isoformat()
    readings = client.get(
        f"/api/v1/hazards/sensors/{hall.humidity.pk}/readings", {"since": since}
    ).json()
    assert len(readings) == 96
    hours = client.get(
        f"/api/v1/hazards/sensors/{hall.humidity.pk}/aggregates", {"since": since}
    ).json()
    # Every ended hour is rolled up (the current one is not yet): 4 readings an hour.
    assert len(hours) in (23, 24, 25)
    assert {h["count"] for h in hours[1:-1]} == {4}
    assert all(h["minimum"] <= h["average"] <= h["maximum"] for h in hours)
    chart = client.get(f"/api/v1/hazards/sensors/{hall.humidity.pk}/chart").json()
    assert chart["resolution"] == "raw" and len(chart["points"]) >= 95
    counters = client.get(f"/api/v1/hazards/sites/{site}/rejections").json()
    assert [(c["device_id"], c["code"], c["count"]) for c in counters] == [
        ("HUM-A-01", "reading_out_of_range", 1)
    ]
    # Bawaslu reads; it manages no device tokens.
    assert client.get(f"/api/v1/hazards/sites/{site}/device-tokens").status_code == 403


def test_device_tokens_are_issued_once_and_revoked_on_the_ledger(
    world: World, client_for: Any, admin_okut: User
) -> None:
    from siaga.hazards.models import DeviceToken
    from siaga.ledger.models import Entry

    client = client_for(admin_okut)
    site = world.warehouse_okut.pk
    issued = client.post(
        f"/api/v1/hazards/sites/{site}/device-tokens",
        {"name": "Gateway"},
        content_type="application/json",
    )
    assert issued.status_code == 201
    raw = issued.json()["token"]
    token = DeviceToken.objects.get(pk=issued.json()["id"])
    assert raw.startswith("sgd_") and raw not in token.key_hash
    listed = client.get(f"/api/v1/hazards/sites/{site}/device-tokens").json()
    assert "token" not in listed[0]
    revoked = client.post(f"/api/v1/hazards/device-tokens/{token.pk}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    kinds = list(
        Entry.objects.filter(subject_id=str(token.pk))
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == ["hazards.device_token.issued", "hazards.device_token.revoked"]
    assert services.device_token_for(raw) is None
    assert uuid.UUID(str(token.pk))

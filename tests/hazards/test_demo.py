"""The demo's simulated sensors: a day of quiet readings, and the simulator's scripted roof leak
in hall B at night, sent through HTTP to a live SIAGA, raising a critical alarm and an
incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from siaga.alarms.models import Alarm
from siaga.hazards import demo
from siaga.hazards.models import HourlyAggregate, Reading, Sensor
from siaga.sites.models import Zone
from tests.conftest import World


def hall_b(world: World) -> None:
    Zone.objects.create(site=world.warehouse_okut, name="Gudang B", kind="storage", restricted=True)


@pytest.mark.django_db
def test_seed_makes_the_warehouses_sensors_and_a_quiet_day(world: World) -> None:
    hall_b(world)
    report = demo.seed(world.warehouse_okut)
    assert report.created and report.sensors == len(demo.SENSORS)
    assert Sensor.objects.filter(site=world.warehouse_okut).count() == len(demo.SENSORS)
    assert report.readings == len(demo.SENSORS) * (24 * 6 + 1)
    assert Reading.objects.count() == report.readings
    assert HourlyAggregate.objects.filter(sensor__device_id="HUM-A-01").count() >= 23
    assert not Alarm.objects.filter(active=True).exists()  # a quiet day
    assert demo.seed(world.warehouse_okut).created is False  # again: nothing new


def test_the_leak_window_runs_from_leak_at_until_six_in_the_morning(world: World) -> None:
    simulator = demo.Simulator(site=world.warehouse_okut, leak_at="23:40")
    local = timezone.get_current_timezone()
    at = lambda h, m: datetime(2029, 1, 10, h, m, tzinfo=local)  # noqa: E731
    assert not simulator.leaking(at(23, 39))
    assert simulator.leaking(at(23, 40))
    assert simulator.leaking(at(3, 0))
    assert not simulator.leaking(at(6, 0))


@pytest.mark.django_db(transaction=True)
def test_the_simulated_roof_leak_raises_a_critical_alarm_and_an_incident(
    world: World, live_server: Any
) -> None:
    hall_b(world)
    site = world.warehouse_okut
    demo.seed(site, hours=1)
    from siaga.hazards import services

    _token, raw = services.issue_device_token(actor=None, site_id=site.pk, name="simulator")
    simulator = demo.Simulator(site=site, base_url=live_server.url, leak_now=True, token=raw)
    assert simulator.round() == len(demo.SENSORS)
    leak = Alarm.objects.get(kind="water_leak", active=True)
    assert leak.severity == "critical"
    assert leak.zone is not None and leak.zone.name == "Gudang B"
    assert leak.incident is not None and leak.incident.category == "banjir"
    assert Sensor.objects.get(device_id="WL-B-01").last_value == 1.0

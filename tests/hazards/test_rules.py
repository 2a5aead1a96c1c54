"""Rules as data, evaluated inside the ingestion with their state in the database; silence and
debounce in the watch job. Every alarm goes through the alarm service."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from siaga.access.models import Presence
from siaga.alarms.models import Alarm
from siaga.hazards import services
from siaga.hazards.models import Rule, RuleState, Sensor
from siaga.hazards.services import Message
from siaga.hazards.services.watch import confirm_debounced, mark_silent
from siaga.incidents.models import Incident
from siaga.ledger.models import Entry
from siaga.sites.models import Zone
from tests.conftest import World
from tests.hazards.conftest import Hall, sensor

pytestmark = pytest.mark.django_db


def send(s: Sensor, value: Any, at: datetime, *, raw: dict[str, Any] | None = None) -> list[Any]:
    payload = (
        raw if raw is not None else {"id": str(uuid.uuid4()), "value": value, "at": at.isoformat()}
    )
    return services.ingest(
        [Message(s.device_id, payload, site_code=s.site.code)], channel="mqtt", now=at
    )


def alarms(kind: str) -> list[Alarm]:
    return list(Alarm.objects.filter(source="hazards", kind=kind).order_by("first_raised_at"))


def test_new_sensors_get_their_kinds_default_rules(hall: Hall) -> None:
    kinds = lambda s: sorted(Rule.objects.filter(sensor=s).values_list("alarm_kind", flat=True))  # noqa: E731
    assert kinds(hall.humidity) == ["humidity_high", "sensor_silent"]
    assert kinds(hall.temperature) == ["sensor_silent", "temperature_high", "temperature_rise"]
    assert kinds(hall.leak) == ["sensor_silent", "water_leak"]
    assert kinds(hall.door) == ["door_open_locked", "sensor_silent"]
    humid = Rule.objects.get(sensor=hall.humidity, alarm_kind="humidity_high")
    assert (humid.threshold, humid.clear_at, humid.duration_seconds) == (80.0, 75.0, 1800)
    # Water in a storage hall is critical.
    assert Rule.objects.get(sensor=hall.leak, alarm_kind="water_leak").severity == "critical"
    assert (
        Entry.objects.filter(kind="hazards.sensor.created", subject_id=str(hall.leak.pk)).count()
        == 1
    )


def test_humidity_above_80_for_30_minutes_raises_and_clears_only_below_75(hall: Hall) -> None:
    start = timezone.now() - timedelta(hours=2)
    for minute, value in [(0, 82), (10, 85), (20, 81)]:
        send(hall.humidity, value, start + timedelta(minutes=minute))
    assert alarms("humidity_high") == []  # not yet 30 minutes
    send(hall.humidity, 79, start + timedelta(minutes=25))  # below: the clock starts again
    for minute in (26, 40, 55):
        send(hall.humidity, 84, start + timedelta(minutes=minute))
    assert alarms("humidity_high") == []  # 29 minutes since 26
    send(hall.humidity, 86, start + timedelta(minutes=56))
    [alarm] = alarms("humidity_high")
    assert alarm.active and alarm.severity == "warning"
    assert alarm.incident is None  # humidity reminds; it does not open an incident
    send(hall.humidity, 77, start + timedelta(minutes=60))  # hysteresis: still up
    alarm.refresh_from_db()
    assert alarm.active
    send(hall.humidity, 74, start + timedelta(minutes=61))
    alarm.refresh_from_db()
    assert not alarm.active
    assert alarm.repeats == 1


def test_a_leak_in_a_storage_hall_is_critical_and_opens_an_incident(hall: Hall) -> None:
    at = timezone.now() - timedelta(minutes=5)
    send(hall.leak, False, at)
    [result] = send(hall.leak, "wet", at + timedelta(seconds=10))
    [alarm] = alarms("water_leak")
    assert result.alarm_ids == [alarm.pk]
    assert alarm.severity == "critical"
    assert alarm.zone_id == hall.leak.zone_id
    assert alarm.incident_id is not None
    incident = Incident.objects.get(pk=alarm.incident_id)
    assert incident.category == "banjir"
    assert incident.severity == 1
    # Wet again: the same alarm counts a repeat (the rule's state holds it up, no second one).
    send(hall.leak, True, at + timedelta(seconds=20))
    assert Alarm.objects.filter(kind="water_leak").count() == 1
    send(hall.leak, False, at + timedelta(seconds=30))
    alarm.refresh_from_db()
    assert not alarm.active


def test_smoke_is_critical_and_opens_a_fire_incident(world: World) -> None:
    smoke = sensor(world, "SMK-A-01", "smoke")
    send(smoke, True, timezone.now())
    [alarm] = alarms("smoke")
    assert alarm.severity == "critical"
    assert alarm.incident is not None
    assert alarm.incident.category == "kebakaran"


def test_heat_rising_8_degrees_within_a_minute_raises_rate_of_rise(hall: Hall) -> None:
    start = timezone.now() - timedelta(minutes=10)
    for second, value in [(0, 30.5), (20, 31.5), (40, 33.5)]:
        send(hall.temperature, value, start + timedelta(seconds=second))
    assert alarms("temperature_rise") == []
    send(hall.temperature, 39.5, start + timedelta(seconds=60))  # 30 -> 39: +9 in a minute
    [alarm] = alarms("temperature_rise")
    assert alarm.severity == "major"
    assert alarm.incident is not None
    # A slow climb afterwards clears it (rise within the window under half the figure).
    for second, value in [(150, 40.5), (210, 41.0)]:
        send(hall.temperature, value, start + timedelta(seconds=second))
    alarm.refresh_from_db()
    assert not alarm.active


def test_rule_state_lives_in_the_database_so_a_restart_keeps_it(hall: Hall) -> None:
    start = timezone.now() - timedelta(hours=1)
    send(hall.humidity, 85, start)
    state = RuleState.objects.get(rule__sensor=hall.humidity, rule__alarm_kind="humidity_high")
    assert state.since == start and not state.active
    # A new process: nothing in memory, the state row carries the 30 minutes on.
    send(hall.humidity, 85, start + timedelta(minutes=31))
    assert len(alarms("humidity_high")) == 1


def test_a_bouncing_door_counts_once_it_holds_and_only_while_the_zone_is_locked(
    hall: Hall, world: World
) -> None:
    t = timezone.now() - timedelta(minutes=1)

    def z2m(contact: bool, seconds: float) -> dict[str, Any]:
        return {"contact": contact, "last_seen": (t + timedelta(seconds=seconds)).isoformat()}

    send(hall.door, None, t, raw=z2m(True, 0))  # closed
    # The reed switch bounces: open, closed, open, closed, open within half a second.
    for i, contact in enumerate([False, True, False, True, False]):
        send(hall.door, None, t, raw=z2m(contact, 1 + i * 0.1))
    assert alarms("door_open_locked") == []  # not yet held 2 s
    # Zigbee2MQTT sends nothing more while it stays open: the watch job confirms it.
    assert confirm_debounced(t + timedelta(seconds=4)) == 1
    [alarm] = alarms("door_open_locked")
    assert alarm.incident is not None  # intrusion
    send(hall.door, None, t, raw=z2m(True, 10))  # closed again
    confirm_debounced(t + timedelta(seconds=13))
    alarm.refresh_from_db()
    assert not alarm.active


def test_a_door_opened_while_someone_is_checked_in_raises_nothing(
    world: World, operator_okut: Any, commissioner_okut: Any
) -> None:
    """The zone is locked when nobody is checked in to it at the gate (siaga.access's
    Presence, read through its selector)."""
    from siaga.access import services as access
    from siaga.access.selectors import occupied_zones

    office = Zone.objects.create(site=world.warehouse_okut, name="Kantor", kind="office")
    door = services.create_sensor(
        actor=None,
        site_id=world.warehouse_okut.pk,
        zone_id=office.pk,
        device_id="DOOR-K-01",
        kind="door_contact",
        payload_format="zigbee2mqtt",
    ).obj
    Rule.objects.filter(sensor=door, alarm_kind="door_open_locked").update(debounce_seconds=0)
    now = timezone.now()
    staff = access.issue_pass(
        actor=commissioner_okut,
        person=access.PersonData(nik="1608014404880004", name="Rina Petugas"),
        site_id=world.warehouse_okut.pk,
        zone_ids=[office.pk],
        kind="staff",
        officer="kpu",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=1),
    ).obj
    access.check_in(actor=operator_okut, id=uuid.uuid4(), badge=staff.qr_payload)
    access.check_in(actor=operator_okut, id=uuid.uuid4(), badge=staff.qr_payload, zone_id=office.pk)
    assert office.pk in occupied_zones(world.warehouse_okut)
    send(door, None, now, raw={"contact": False, "last_seen": now.isoformat()})  # open
    assert alarms("door_open_locked") == []
    rule = Rule.objects.get(sensor=door, alarm_kind="door_open_locked")
    assert RuleState.objects.get(rule=rule).value == 1.0  # open, known, no alarm
    # She leaves; the door opens again in the empty office: an intrusion.
    access.check_out(actor=operator_okut, id=uuid.uuid4(), badge=staff.qr_payload)
    assert not Presence.objects.exists()
    later = now + timedelta(seconds=5)
    send(door, None, later, raw={"contact": True, "last_seen": later.isoformat()})
    later += timedelta(seconds=5)
    send(door, None, later, raw={"contact": False, "last_seen": later.isoformat()})
    assert len(alarms("door_open_locked")) == 1


def test_a_sensor_silent_for_three_intervals_raises_and_its_next_reading_clears(
    hall: Hall,
) -> None:
    t = timezone.now() - timedelta(minutes=10)
    send(hall.humidity, 70, t)
    assert mark_silent(t + timedelta(seconds=179)) == 0
    assert mark_silent(t + timedelta(seconds=181)) == 1
    humidity = Sensor.objects.get(pk=hall.humidity.pk)
    assert humidity.status == "silent"
    [alarm] = alarms("sensor_silent")
    assert alarm.severity == "warning" and alarm.incident is None
    assert mark_silent(t + timedelta(seconds=400)) == 0  # one alarm, not one per round
    send(hall.humidity, 71, t + timedelta(seconds=420))
    alarm.refresh_from_db()
    assert not alarm.active
    assert Sensor.objects.get(pk=hall.humidity.pk).status == "online"


def test_a_battery_sensor_reporting_hourly_is_unavailable_only_after_25_hours(
    world: World,
) -> None:
    leak = sensor(
        world, "WL-A-09", "water_leak", battery_powered=True, report_interval_seconds=3600
    )
    t = timezone.now() - timedelta(hours=30)
    send(leak, False, t)
    assert mark_silent(t + timedelta(hours=24)) == 0
    assert mark_silent(t + timedelta(hours=25, minutes=1)) == 1
    assert Sensor.objects.get(pk=leak.pk).status == "unavailable"
    [alarm] = alarms("sensor_silent")
    assert alarm.severity == "minor"

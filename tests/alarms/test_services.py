"""Alarms: one alarm per condition, lifecycle active/cleared × acknowledged, policy opens
incidents, reminders while unacknowledged; every transition in the ledger."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from siaga.accounts.models import User
from siaga.alarms import services
from siaga.alarms.choices import AlarmStatus
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.incidents.choices import Source
from siaga.ledger.models import Entry
from siaga.notify.models import Message
from tests.conftest import World

pytestmark = pytest.mark.django_db


def leak(world: World, **extra: object) -> Alarm:
    fields: dict[str, object] = {
        "source": "hazards",
        "key": "sensor:WL-B-01",
        "kind": "water_leak",
        "site": world.warehouse_okut,
        "zone": world.hall_a_okut,
        "severity": "major",
        "message": "Sensor kebocoran air WL-B-01 basah",
        "evidence": [{"type": "reading", "id": "r-1", "label": "WL-B-01 = basah"}],
    }
    fields.update(extra)
    return services.raise_alarm(**fields)  # type: ignore[arg-type]


def humid(world: World, severity: str = "warning") -> Alarm:
    return services.raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity=severity,
        message="Kelembapan Gudang B 88%",
    )


def ledger_kinds(alarm: Alarm) -> list[str]:
    return list(
        Entry.objects.filter(subject_type="alarms.alarm", subject_id=str(alarm.pk))
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def test_the_same_condition_raised_again_is_one_alarm(world: World) -> None:
    first = humid(world)
    for _ in range(50):
        again = humid(world)
    assert again.pk == first.pk
    assert Alarm.objects.count() == 1
    again.refresh_from_db()
    assert again.repeats == 51
    assert ledger_kinds(again) == ["alarm.raised"]
    # Worse news is a transition: the severity rises, and that is recorded.
    humid(world, "major")
    again.refresh_from_db()
    assert again.severity == "major"
    assert ledger_kinds(again) == ["alarm.raised", "alarm.severity_raised"]


def test_a_flapping_alarm_does_not_flood_the_responders(
    world: World, guard_okut: User, operator_okut: User
) -> None:
    for _ in range(20):
        humid(world)
        services.clear_alarm(source="hazards", key="sensor:HUM-B-02")
    assert Alarm.objects.count() == 20  # twenty conditions, each recorded
    per_guard = Message.objects.filter(user=guard_okut, channel="inapp")
    # Grouped by the condition: the guard gets one message with a count, not twenty.
    assert per_guard.filter(grouped_into__isnull=True).count() == 1
    assert per_guard.filter(grouped_into__isnull=True).get().count == 20


def test_lifecycle_active_cleared_acknowledged(world: World, guard_okut: User) -> None:
    alarm = humid(world)
    assert alarm.status == AlarmStatus.ACTIVE_UNACK
    services.acknowledge_alarm(actor=guard_okut, alarm_id=alarm.pk)
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE_ACK
    assert services.clear_alarm(source="hazards", key="sensor:HUM-B-02") is not None
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLEARED_ACK
    assert services.clear_alarm(source="hazards", key="sensor:HUM-B-02") is None  # no-op
    assert ledger_kinds(alarm) == ["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    # Raised again after clearing: a new alarm.
    assert humid(world).pk != alarm.pk


def test_policy_opens_an_incident_that_escalates(world: World, kapolres_okut: User) -> None:
    alarm = leak(world)
    assert alarm.incident is not None
    incident = alarm.incident
    assert (incident.category, incident.severity, incident.source) == ("banjir", 2, Source.ALARM)
    assert incident.site_id == world.warehouse_okut.pk
    assert list(incident.links.values_list("link_type", "link_id")) == [
        ("alarm", str(alarm.pk)),
        ("reading", "r-1"),
    ]
    assert incident.tier == 1
    assert incident.notified.filter(user=kapolres_okut).exists()
    # A warning-level humidity alarm opens nothing; it reminds.
    quiet = humid(world)
    assert quiet.incident is None
    assert quiet.next_reminder_at == quiet.first_raised_at + timedelta(minutes=15)


def test_reminders_until_acknowledged(world: World, guard_okut: User) -> None:
    alarm = humid(world)
    later = timezone.now() + timedelta(minutes=16)
    assert services.remind_due_alarms(later) == 1
    alarm.refresh_from_db()
    assert alarm.reminders == 1
    assert ledger_kinds(alarm) == ["alarm.raised", "alarm.reminded"]
    services.acknowledge_alarm(actor=guard_okut, alarm_id=alarm.pk)
    assert services.remind_due_alarms(later + timedelta(hours=1)) == 0


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"severity": "apocalyptic"}, "alarm_severity_unknown"),
        ({"key": ""}, "alarm_source_required"),
        ({"evidence": [{"label": "no type"}]}, "alarm_evidence_invalid"),
    ],
)
def test_bad_alarms_are_refused(world: World, fields: dict[str, object], code: str) -> None:
    entries = Entry.objects.count()
    with pytest.raises(InvalidInput) as caught:
        leak(world, **fields)
    assert caught.value.code == code
    assert Alarm.objects.count() == 0 and Entry.objects.count() == entries


def test_a_zone_of_another_site_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        leak(world, site=world.warehouse_oku)
    assert Alarm.objects.count() == 0


def test_acknowledging_outside_ones_scope_is_refused(
    world: World, kpu_oku: User, bawaslu_okut: User
) -> None:
    alarm = humid(world)
    entries = Entry.objects.count()
    with pytest.raises(NotFound):
        services.acknowledge_alarm(actor=kpu_oku, alarm_id=alarm.pk)
    with pytest.raises(PermissionDenied) as caught:
        services.acknowledge_alarm(actor=bawaslu_okut, alarm_id=alarm.pk)
    assert caught.value.code == "alarm_out_of_scope"
    with pytest.raises(NotFound):
        services.acknowledge_alarm(actor=bawaslu_okut, alarm_id=uuid.uuid4())
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is None
    assert Entry.objects.count() == entries


def test_linking_an_alarm_to_an_incident(
    world: World, guard_okut: User, kpu_oku: User, commissioner_okut: User
) -> None:
    from siaga.incidents.services import report_incident

    alarm = humid(world)
    incident = report_incident(
        actor=guard_okut, category="banjir", severity=2, site_id=world.warehouse_okut.pk
    ).incident
    with pytest.raises(NotFound):
        services.link_alarm(actor=kpu_oku, alarm_id=alarm.pk, incident_id=incident.pk)
    services.link_alarm(actor=guard_okut, alarm_id=alarm.pk, incident_id=incident.pk)
    services.link_alarm(actor=commissioner_okut, alarm_id=alarm.pk, incident_id=incident.pk)
    alarm.refresh_from_db()
    assert alarm.incident_id == incident.pk
    assert incident.events.filter(kind="alarm").count() == 1
    assert list(incident.links.values_list("link_type", "link_id")) == [("alarm", str(alarm.pk))]
    assert ledger_kinds(alarm) == ["alarm.raised", "alarm.linked"]
    other = report_incident(
        actor=guard_okut, category="kebakaran", severity=1, site_id=world.warehouse_okut.pk
    ).incident
    with pytest.raises(Conflict) as caught:
        services.link_alarm(actor=guard_okut, alarm_id=alarm.pk, incident_id=other.pk)
    assert caught.value.code == "alarm_already_linked"

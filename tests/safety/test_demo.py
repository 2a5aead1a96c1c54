"""The demo's safety equipment for the OKU Timur warehouse: its APARs (one expiring in 10
days, one expired), smoke detectors, a pump and lightning protection; safe to seed again."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.safety.demo import equipment_id, seed
from siaga.safety.models import Equipment, Reminder
from tests.conftest import World
from tests.safety.conftest import state

pytestmark = pytest.mark.django_db


def test_the_warehouse_gets_its_equipment_an_alarm_and_reminders_once(
    world: World, operator_okut: User, today: dt.date
) -> None:
    site = world.warehouse_okut
    seeded = seed(site)
    assert (seeded.created, seeded.items, seeded.alarms) == (8, 8, 1)
    kinds = sorted(Equipment.objects.filter(site=site).values_list("kind", flat=True))
    assert kinds == [
        "fire_extinguisher",
        "fire_extinguisher",
        "fire_extinguisher",
        "fire_extinguisher",
        "lightning_protection",
        "smoke_detector",
        "smoke_detector",
        "water_pump",
    ]
    expiring = Equipment.objects.get(pk=equipment_id(site, "APAR-01"))
    assert expiring.expiry_on == today + dt.timedelta(days=10)
    assert expiring.zone == world.hall_a_okut
    assert expiring.responsible == operator_okut
    expired = Equipment.objects.get(pk=equipment_id(site, "APAR-02"))
    alarm = Alarm.objects.get(source="safety", active=True)
    assert (alarm.key, alarm.kind) == (f"equipment:{expired.pk}", "equipment_expired")
    # The 30-day reminders: APAR-01 (expires in 10 days) and APAR-03 (service in 20 days).
    assert sorted(Reminder.objects.values_list("equipment_id", "step")) == sorted(
        [(expiring.pk, 30), (equipment_id(site, "APAR-03"), 30)]
    )
    assert seeded.reminded == 2
    before = state()
    again = seed(site)
    assert (again.created, again.items, again.reminded) == (0, 8, 0)
    assert state() == before

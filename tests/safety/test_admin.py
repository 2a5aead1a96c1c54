"""Safety equipment on the admin pages: the model's rules check the form, each save is a
ledger entry, and the item's alarm follows its dates at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.ledger.models import Entry
from siaga.safety.models import Equipment
from tests.conftest import World
from tests.safety.conftest import state

pytestmark = pytest.mark.django_db


def form(world: World, operator: User, today: dt.date, **changes: Any) -> dict[str, Any]:
    data = {
        "site": str(world.warehouse_okut.pk),
        "zone": str(world.hall_a_okut.pk),
        "kind": "fire_extinguisher",
        "variant": "powder",
        "size_kg": "6",
        "serial": "APAR-ADM-1",
        "location": "Pintu",
        "installed_on": (today - dt.timedelta(days=100)).isoformat(),
        "expiry_on": (today + dt.timedelta(days=800)).isoformat(),
        "next_service_on": "",
        "responsible": str(operator.pk),
        "state": "in_service",
        "services-TOTAL_FORMS": "0",
        "services-INITIAL_FORMS": "0",
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_the_admin_refuses_what_the_services_refuse_and_writes_nothing(
    client_for: Any, root: User, world: World, operator_okut: User, kpu_oku: User, today: dt.date
) -> None:
    client = client_for(root)
    url = reverse("admin:safety_equipment_add")
    before = state()
    # The admin speaks the catalogue's Bahasa Indonesia.
    for changes, words in (
        (
            {"expiry_on": (today - dt.timedelta(days=200)).isoformat()},
            "lebih awal dari tanggal pemasangan",
        ),
        ({"responsible": str(kpu_oku.pk)}, "Penanggung jawab harus berwenang"),
        ({"size_kg": "-3"}, "Ukuran APAR harus lebih dari 0"),
    ):
        response = client.post(url, form(world, operator_okut, today, **changes))
        assert response.status_code == 200, changes
        assert words in response.content.decode(), changes
        assert state() == before


def test_an_admin_save_is_a_ledger_entry_and_an_expired_date_raises_the_alarm(
    client_for: Any, root: User, world: World, operator_okut: User, today: dt.date
) -> None:
    client = client_for(root)
    response = client.post(reverse("admin:safety_equipment_add"), form(world, operator_okut, today))
    assert response.status_code == 302, response.content.decode()[:3000]
    item = Equipment.objects.get(serial="APAR-ADM-1")
    assert Entry.objects.get(kind="equipment.created", subject_id=str(item.pk)).actor == "root"
    expired = form(
        world,
        operator_okut,
        today,
        installed_on=(today - dt.timedelta(days=2000)).isoformat(),
        expiry_on=(today - dt.timedelta(days=1)).isoformat(),
    )
    response = client.post(reverse("admin:safety_equipment_change", args=[item.pk]), expired)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Entry.objects.filter(kind="equipment.changed", subject_id=str(item.pk)).count() == 1
    assert Alarm.objects.get(source="safety", active=True).key == f"equipment:{item.pk}"

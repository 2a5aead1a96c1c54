"""Safety equipment at the OKU Timur warehouse: an APAR factory and the state to compare."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.ledger.models import Entry
from siaga.notify.models import Message
from siaga.safety import services
from siaga.safety.models import Equipment, Reminder, ServiceRecord
from siaga.safety.rules import site_today
from tests.conftest import World


@pytest.fixture
def today(world: World) -> dt.date:
    return site_today(world.warehouse_okut)


@pytest.fixture
def apar(world: World, operator_okut: User, today: dt.date) -> Any:
    """``apar(expiry_in=10, service_in=None, **fields)``: a powder APAR in hall A."""

    def make(
        *, expiry_in: int | None = 400, service_in: int | None = 90, **fields: Any
    ) -> Equipment:
        values: dict[str, Any] = {
            "actor": operator_okut,
            "id": uuid.uuid4(),
            "site_id": world.warehouse_okut.pk,
            "zone_id": world.hall_a_okut.pk,
            "kind": "fire_extinguisher",
            "variant": "powder",
            "size_kg": Decimal("6"),
            "serial": f"SN-{uuid.uuid4().hex[:8]}",
            "location": "Dekat pintu",
            "installed_on": today - dt.timedelta(days=700),
            "expiry_on": today + dt.timedelta(days=expiry_in) if expiry_in is not None else None,
            "next_service_on": (
                today + dt.timedelta(days=service_in) if service_in is not None else None
            ),
            "responsible_id": operator_okut.pk,
        }
        values.update(fields)
        return services.add_equipment(**values).obj

    return make


def state() -> dict[str, Any]:
    """Every row this app and its alarms and messages write, to compare before and after."""
    return {
        "equipment": sorted(map(repr, Equipment.objects.values_list())),
        "services": sorted(map(repr, ServiceRecord.objects.values_list())),
        "reminders": sorted(map(repr, Reminder.objects.values_list())),
        "alarms": sorted(map(repr, Alarm.objects.values_list())),
        "messages": Message.objects.count(),
        "ledger": Entry.objects.count(),
    }

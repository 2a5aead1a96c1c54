"""Sensors in the OKU Timur warehouse's hall A, and a device token for each warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from siaga.hazards import services
from siaga.hazards.models import Sensor
from tests.conftest import World


@dataclass
class Hall:
    humidity: Sensor
    leak: Sensor
    door: Sensor
    temperature: Sensor
    token: str
    token_oku: str


def sensor(world: World, device_id: str, kind: str, **extra: Any) -> Sensor:
    return services.create_sensor(
        actor=None,
        site_id=world.warehouse_okut.pk,
        zone_id=world.hall_a_okut.pk,
        device_id=device_id,
        kind=kind,
        **extra,
    ).obj


@pytest.fixture
def hall(world: World) -> Hall:
    _, raw = services.issue_device_token(
        actor=None, site_id=world.warehouse_okut.pk, name="gateway"
    )
    _, raw_oku = services.issue_device_token(
        actor=None, site_id=world.warehouse_oku.pk, name="gateway OKU"
    )
    return Hall(
        humidity=sensor(world, "HUM-A-01", "humidity"),
        leak=sensor(world, "WL-A-01", "water_leak"),
        door=sensor(world, "DOOR-A-01", "door_contact", payload_format="zigbee2mqtt"),
        temperature=sensor(world, "TMP-A-01", "temperature", calibration_offset=-0.5),
        token=raw,
        token_oku=raw_oku,
    )

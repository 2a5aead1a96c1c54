"""The demo's weather: a heavy-rain warning in force over the Martapura warehouse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from siaga.accounts.models import User
from siaga.notify.models import Message
from siaga.weather import cap, demo
from siaga.weather.models import WarningSite, WeatherWarning
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_demo_document_is_bmkg_shaped_cap() -> None:
    alert = cap.read_alert(demo.document())
    assert alert.sender == "bmkg@bmkg.go.id"
    assert alert.identifier.startswith("2.49.0.0.360.0.")
    assert alert.infos[0].event == "Hujan Lebat"
    assert len(alert.infos[0].areas[0].polygons) == 3


def test_seed_puts_a_warning_in_force_on_the_martapura_warehouse(
    world: World, guard_okut: User
) -> None:
    outcome = demo.seed()
    assert outcome is not None and outcome.result == "created"
    [warning] = WeatherWarning.objects.in_force()
    assert warning.effective_offset == 420
    assert warning.expires - timezone.now() > timedelta(hours=5)
    covered = WarningSite.objects.get(warning=warning, site=world.warehouse_okut)
    assert covered.activated_at is not None
    assert Message.objects.filter(user=guard_okut, kind="weather.in_force").count() == 1
    # Running the demo again changes nothing while the warning is in force.
    assert demo.seed() is None
    assert WeatherWarning.objects.count() == 1


def test_retimed_moves_every_time_and_keeps_offsets() -> None:
    sent = timezone.now().replace(microsecond=0)
    moved = cap.read_alert(demo.retimed(demo.document(), sent=sent, suffix="X"))
    assert moved.sent.at == sent
    assert moved.sent.offset == 420
    assert moved.identifier.endswith(".X")
    info = moved.infos[0]
    assert info.expires is not None and info.expires.at - sent == timedelta(hours=6)

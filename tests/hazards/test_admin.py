"""The rule editor on the admin: every change of a rule is a ledger entry in the same
transaction, and the next reading follows the edited rule."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.hazards import services
from siaga.hazards.models import Rule
from siaga.ledger.models import Entry
from tests.hazards.conftest import Hall

pytestmark = pytest.mark.django_db


def rule_form(rule: Rule, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "sensor": str(rule.sensor_id),
        "alarm_kind": rule.alarm_kind,
        "kind": rule.kind,
        "severity": rule.severity,
        "direction": rule.direction,
        "threshold": "" if rule.threshold is None else str(rule.threshold),
        "clear_at": "" if rule.clear_at is None else str(rule.clear_at),
        "duration_seconds": str(rule.duration_seconds),
        "rise": "" if rule.rise is None else str(rule.rise),
        "window_seconds": str(rule.window_seconds),
        "debounce_seconds": str(rule.debounce_seconds),
        "intervals": str(rule.intervals),
    }
    for flag in ("enabled", "trigger_value", "only_when_zone_locked"):
        if getattr(rule, flag):
            form[flag] = "on"
    form.update(changes)
    return form


def test_a_rule_changed_on_the_admin_is_on_the_ledger_and_applies_at_once(
    hall: Hall, client_for: Any, root: User
) -> None:
    rule = Rule.objects.get(sensor=hall.humidity, alarm_kind="humidity_high")
    url = reverse("admin:hazards_rule_change", args=[rule.pk])
    client = client_for(root)
    response = client.post(
        url, rule_form(rule, threshold="70", clear_at="65", duration_seconds="0")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.threshold, rule.clear_at, rule.duration_seconds) == (70.0, 65.0, 0)
    entry = Entry.objects.get(kind="rule.changed", subject_id=str(rule.pk))
    assert entry.region == "16.08.01.1008"
    assert entry.actor == "root"
    payload = json.loads(entry.payload) if isinstance(entry.payload, str) else entry.payload
    assert set(payload["changes"]) == {"threshold", "clear_at", "duration_seconds"}
    now = timezone.now()
    services.ingest(
        [
            services.Message(
                "HUM-A-01", {"id": str(uuid.uuid4()), "value": 72}, site_code="GUDANG-16.08"
            )
        ],
        channel="mqtt",
        now=now,
    )
    assert Alarm.objects.filter(kind="humidity_high", active=True).count() == 1
    assert now - timedelta(seconds=5) < Alarm.objects.get().first_raised_at <= now


def test_a_rule_that_cannot_clear_is_refused_with_nothing_written(
    hall: Hall, client_for: Any, root: User
) -> None:
    rule = Rule.objects.get(sensor=hall.humidity, alarm_kind="humidity_high")
    before = Entry.objects.count()
    response = client_for(root).post(
        reverse("admin:hazards_rule_change", args=[rule.pk]),
        rule_form(rule, threshold="80", clear_at="85"),
    )
    assert response.status_code == 200  # the form again, with the error
    assert "sisi aman ambang" in response.content.decode()  # the admin speaks Indonesian
    rule.refresh_from_db()
    assert rule.clear_at == 75.0
    assert Entry.objects.count() == before

"""Rules as data: the defaults each kind of sensor gets, and their evaluation.

Evaluation is pure over a rule and its state (a :class:`RuleState` row, changed in place): it
returns what the alarm service must do — raise, clear or nothing — and whether the state changed
(so the ingestion writes only the states that did). Silence is the watch job's (services.watch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from siaga.alarms.choices import AlarmSeverity
from siaga.core import i18n
from siaga.hazards.choices import AlarmKind, Direction, RuleKind, SensorKind
from siaga.hazards.models import Rule, RuleState, Sensor
from siaga.sites.choices import ZoneKind

RAISE, CLEAR = "raise", "clear"


def default_rules(sensor: Sensor) -> list[dict[str, Any]]:
    """The rules a new sensor of this kind gets (fields of :class:`Rule`). Water in a storage
    hall is critical (the ballots are there); elsewhere it is major. Both open an incident
    through the alarm policies (0002_default_alarm_policies)."""
    kind = sensor.kind
    storage = sensor.zone is not None and sensor.zone.kind == ZoneKind.STORAGE
    silent: dict[str, Any] = {
        "kind": RuleKind.SILENT,
        "alarm_kind": AlarmKind.SENSOR_SILENT,
        "severity": AlarmSeverity.WARNING,
        "intervals": 3,
    }
    rules: list[dict[str, Any]] = []
    if kind == SensorKind.HUMIDITY:
        rules.append(
            {
                "kind": RuleKind.THRESHOLD,
                "alarm_kind": AlarmKind.HUMIDITY_HIGH,
                "severity": AlarmSeverity.WARNING,
                "threshold": 80.0,
                "clear_at": 75.0,
                "duration_seconds": 30 * 60,
            }
        )
    elif kind == SensorKind.TEMPERATURE:
        rules.append(
            {
                "kind": RuleKind.THRESHOLD,
                "alarm_kind": AlarmKind.TEMPERATURE_HIGH,
                "severity": AlarmSeverity.MAJOR,
                "threshold": 57.0,  # a fixed-temperature heat detector's usual figure
                "clear_at": 50.0,
                "duration_seconds": 0,
            }
        )
        rules.append(
            {
                "kind": RuleKind.RATE_OF_RISE,
                "alarm_kind": AlarmKind.TEMPERATURE_RISE,
                "severity": AlarmSeverity.MAJOR,
                "rise": 8.0,
                "window_seconds": 60,
            }
        )
    elif kind == SensorKind.WATER_LEVEL:
        rules.append(
            {
                "kind": RuleKind.THRESHOLD,
                "alarm_kind": AlarmKind.WATER_LEVEL_HIGH,
                "severity": AlarmSeverity.MAJOR,
                "threshold": 10.0,
                "clear_at": 5.0,
                "duration_seconds": 60,
            }
        )
    elif kind == SensorKind.WATER_LEAK:
        rules.append(
            {
                "kind": RuleKind.TRIGGER,
                "alarm_kind": AlarmKind.WATER_LEAK,
                "severity": AlarmSeverity.CRITICAL if storage else AlarmSeverity.MAJOR,
                "trigger_value": True,
            }
        )
    elif kind == SensorKind.SMOKE:
        rules.append(
            {
                "kind": RuleKind.TRIGGER,
                "alarm_kind": AlarmKind.SMOKE,
                "severity": AlarmSeverity.CRITICAL,
                "trigger_value": True,
            }
        )
    elif kind == SensorKind.DOOR_CONTACT:
        rules.append(
            {
                "kind": RuleKind.TRIGGER,
                "alarm_kind": AlarmKind.DOOR_OPEN_LOCKED,
                "severity": AlarmSeverity.MAJOR,
                "trigger_value": True,
                "only_when_zone_locked": True,
                "debounce_seconds": settings.HAZARDS_DEBOUNCE_SECONDS,
            }
        )
    elif kind == SensorKind.MOTION:
        rules.append(
            {
                "kind": RuleKind.TRIGGER,
                "alarm_kind": AlarmKind.MOTION_LOCKED,
                "severity": AlarmSeverity.MAJOR,
                "trigger_value": True,
                "only_when_zone_locked": True,
            }
        )
    elif kind == SensorKind.MAINS_POWER:
        rules.append(
            {
                "kind": RuleKind.TRIGGER,
                "alarm_kind": AlarmKind.MAINS_POWER_LOST,
                "severity": AlarmSeverity.MINOR,
                "trigger_value": False,
                "debounce_seconds": settings.HAZARDS_DEBOUNCE_SECONDS,
            }
        )
    rules.append(silent)
    return rules


@dataclass(frozen=True, slots=True)
class Outcome:
    changed: bool
    action: str | None = None  # RAISE, CLEAR or None


NOTHING = Outcome(False)


def evaluate(
    rule: Rule,
    state: RuleState,
    value: float | None,
    at: datetime,
    *,
    zone_locked: Callable[[], bool],
) -> Outcome:
    """One reading through one rule. ``None`` (unknown) changes nothing: a device that has just
    restarted neither raises nor clears. (The ingestion passes only readings newer than the
    sensor's last: an old one is kept as data but never moves the state backwards.)"""
    if not rule.enabled or value is None or rule.kind == RuleKind.SILENT:
        return NOTHING
    if rule.kind == RuleKind.THRESHOLD:
        return _threshold(rule, state, value, at)
    if rule.kind == RuleKind.RATE_OF_RISE:
        return _rate_of_rise(rule, state, value, at)
    if rule.kind == RuleKind.TRIGGER:
        return _trigger(rule, state, value, at, zone_locked)
    return NOTHING


def _threshold(rule: Rule, state: RuleState, value: float, at: datetime) -> Outcome:
    assert rule.threshold is not None
    above = rule.direction == Direction.ABOVE
    clear_at = rule.threshold if rule.clear_at is None else rule.clear_at
    past = value > rule.threshold if above else value < rule.threshold
    if state.active:
        back = value < clear_at if above else value > clear_at
        if back:
            state.active, state.since = False, None
            return Outcome(True, CLEAR)
        return NOTHING
    if not past:
        if state.since is None:
            return NOTHING
        state.since = None
        return Outcome(True)
    changed = False
    if state.since is None:
        state.since, changed = at, True
    if (at - state.since).total_seconds() >= rule.duration_seconds:
        state.active = True
        return Outcome(True, RAISE)
    return Outcome(changed)


def _rate_of_rise(rule: Rule, state: RuleState, value: float, at: datetime) -> Outcome:
    """The rise over the last ``window_seconds`` (from the lowest point in it); a sensor that
    reports less often than the window is judged by its last point, scaled to the window."""
    assert rule.rise is not None
    window = float(rule.window_seconds)
    now = at.timestamp()
    points = [(t, v) for t, v in (state.points or []) if 0 < now - t <= 3 * window]
    rise = 0.0
    inside = [v for t, v in points if now - t <= window]
    if inside:
        rise = value - min(inside)
    elif points:
        t, v = points[-1]
        rise = (value - v) * window / (now - t)
    points.append((now, value))
    state.points = [[t, v] for t, v in points[-32:]]
    if not state.active and rise >= rule.rise:
        state.active = True
        return Outcome(True, RAISE)
    if state.active and rise < rule.rise / 2:
        state.active = False
        return Outcome(True, CLEAR)
    return Outcome(True)


def _trigger(
    rule: Rule,
    state: RuleState,
    value: float,
    at: datetime,
    zone_locked: Callable[[], bool],
) -> Outcome:
    """Yes/no: a change counts once it has held ``debounce_seconds`` (a bouncing contact is one
    change, or none). A value left unconfirmed (a contact sends only when it changes) is
    confirmed by the watch job once it has held."""
    current = 1.0 if value >= 0.5 else 0.0
    if rule.debounce_seconds <= 0 or (state.candidate is None and state.value == current):
        return confirm(rule, state, current, zone_locked)
    changed = False
    if state.candidate != current:
        state.candidate, state.candidate_since, changed = current, at, True
    assert state.candidate_since is not None
    if (at - state.candidate_since).total_seconds() >= rule.debounce_seconds:
        outcome = confirm(rule, state, current, zone_locked)
        return Outcome(True, outcome.action)
    return Outcome(changed)


def confirm(
    rule: Rule, state: RuleState, current: float, zone_locked: Callable[[], bool]
) -> Outcome:
    """A yes/no value that holds: raise when it is the trigger value (and, for a door or a
    PIR, the zone is locked), clear when it is not."""
    changed = state.candidate is not None or state.value != current
    state.candidate, state.candidate_since, state.value = None, None, current
    triggered = current == (1.0 if rule.trigger_value else 0.0)
    if triggered and not state.active:
        if rule.only_when_zone_locked and not zone_locked():
            return Outcome(changed)
        state.active = True
        return Outcome(True, RAISE)
    if not triggered and state.active:
        state.active = False
        return Outcome(True, CLEAR)
    return Outcome(changed)


def due_confirmations(now: datetime | None = None) -> Any:
    """Rule states whose debounced candidate has held long enough with no new reading (a
    contact sends only when it changes)."""
    now = now or timezone.now()
    return (
        RuleState.objects.filter(candidate__isnull=False, candidate_since__lte=now)
        .select_related("rule__sensor__site", "rule__sensor__zone")
        .filter(rule__enabled=True, rule__sensor__active=True)
    )


def held_long_enough(state: RuleState, now: datetime) -> bool:
    assert state.candidate_since is not None
    return now - state.candidate_since >= timedelta(seconds=state.rule.debounce_seconds)


def message(rule: Rule, sensor: Sensor, value: float | None) -> dict[str, Any]:
    """The alarm's message as a translatable tree."""
    place = sensor.zone.name if sensor.zone else sensor.site.name
    what = i18n.label(AlarmKind, rule.alarm_kind)
    if rule.kind == RuleKind.THRESHOLD:
        return i18n.text(
            gettext_noop("%(what)s: %(sensor)s in %(place)s reads %(value)s %(unit)s"),
            what=what,
            sensor=sensor.device_id,
            place=place,
            value=_fmt(value),
            unit=sensor.unit,
        )
    if rule.kind == RuleKind.RATE_OF_RISE:
        return i18n.text(
            gettext_noop(
                "%(what)s: %(sensor)s in %(place)s rose %(rise)s %(unit)s or more within "
                "%(seconds)s s (now %(value)s)"
            ),
            what=what,
            sensor=sensor.device_id,
            place=place,
            rise=_fmt(rule.rise),
            unit=sensor.unit,
            seconds=rule.window_seconds,
            value=_fmt(value),
        )
    if rule.kind == RuleKind.SILENT:
        since = timezone.localtime(sensor.last_reading_at) if sensor.last_reading_at else None
        return i18n.text(
            gettext_noop("%(what)s: %(sensor)s in %(place)s has sent nothing since %(since)s"),
            what=what,
            sensor=sensor.device_id,
            place=place,
            since=since.strftime("%Y-%m-%d %H:%M") if since else "—",
        )
    return i18n.text(
        gettext_noop("%(what)s: %(sensor)s in %(place)s"),
        what=what,
        sensor=sensor.device_id,
        place=place,
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")

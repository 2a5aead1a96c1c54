"""The periodic jobs: sensors gone silent (or unavailable), debounced contacts that have held,
and the time series' roll-up into hourly aggregates and purge of old raw rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max, Min, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from siaga.access.selectors import occupied_zones
from siaga.alarms.choices import SEVERITY_RANK, AlarmSeverity
from siaga.hazards import rules as rule_engine
from siaga.hazards.choices import RuleKind, SensorStatus
from siaga.hazards.models import HourlyAggregate, Reading, Rule, RuleState, Sensor
from siaga.hazards.services.ingestion import apply

logger = logging.getLogger("siaga.hazards")
MINOR_RANK = SEVERITY_RANK[AlarmSeverity.MINOR]


def watch(now: datetime | None = None) -> dict[str, int]:
    """Run by the worker every SIAGA_HAZARDS_WATCH_SECONDS."""
    now = now or timezone.now()
    return {"silent": mark_silent(now), "confirmed": confirm_debounced(now)}


def mark_silent(now: datetime | None = None, *, limit: int = 500) -> int:
    """Sensors whose ``silent_after`` has passed: silent (unavailable, if battery-powered), and
    their silent rule's alarm raised. The next reading clears it (ingestion)."""
    now = now or timezone.now()
    due = list(
        Sensor.objects.filter(active=True, silent_after__lte=now)
        .exclude(status__in=[SensorStatus.SILENT, SensorStatus.UNAVAILABLE])
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for sensor_id in due:
        with transaction.atomic():
            sensor = (
                Sensor.objects.select_for_update(of=("self",))
                .select_related("site", "zone")
                .filter(pk=sensor_id, silent_after__lte=now)
                .exclude(status__in=[SensorStatus.SILENT, SensorStatus.UNAVAILABLE])
                .first()
            )
            if sensor is None:
                continue
            sensor.status = (
                SensorStatus.UNAVAILABLE if sensor.battery_powered else SensorStatus.SILENT
            )
            sensor.status_since = now
            sensor.save(update_fields=["status", "status_since", "updated_at"])
            rule = sensor.rules.filter(kind=RuleKind.SILENT, enabled=True).first()
            if rule is not None:
                state, _ = RuleState.objects.get_or_create(rule=rule)
                state.active = True
                state.save(update_fields=["active"])
                unavailable = sensor.status == SensorStatus.UNAVAILABLE
                if unavailable and SEVERITY_RANK[AlarmSeverity(rule.severity)] > MINOR_RANK:
                    rule.severity = AlarmSeverity.MINOR  # gone for a day: worse than late
                apply(rule, sensor, rule_engine.RAISE, sensor.last_value, now)
            done += 1
    return done


def confirm_debounced(now: datetime | None = None, *, limit: int = 500) -> int:
    """Contacts send only when they change: a candidate value that has held its debounce
    time with nothing after it is confirmed here."""
    now = now or timezone.now()
    done = 0
    for state_id in list(
        rule_engine.due_confirmations(now).values_list("pk", flat=True)[: limit * 4]
    ):
        with transaction.atomic():
            state = (
                RuleState.objects.select_for_update(of=("self",))
                .select_related("rule__sensor__site", "rule__sensor__zone")
                .filter(pk=state_id, candidate__isnull=False)
                .first()
            )
            if state is None or not rule_engine.held_long_enough(state, now):
                continue
            rule: Rule = state.rule
            sensor = rule.sensor
            assert state.candidate is not None
            outcome = rule_engine.confirm(
                rule,
                state,
                state.candidate,
                _locked(sensor),
            )
            state.save()
            if outcome.action:
                apply(rule, sensor, outcome.action, state.value, now)
            done += 1
            if done >= limit:
                break
    return done


def _locked(sensor: Sensor) -> Callable[[], bool]:
    return lambda: sensor.zone_id not in occupied_zones(sensor.site)


def rollup(now: datetime | None = None) -> dict[str, int]:
    """Hourly aggregates of every ended hour that got readings since the last round (each
    sensor's ``rollup_from``, kept by the ingestion: a late or back-filled reading is counted),
    recomputed from the raw rows; then the purge of raw rows older than
    SIAGA_HAZARDS_RAW_DAYS. Run every SIAGA_HAZARDS_ROLLUP_SECONDS. Every query goes through
    the (sensor, at) index."""
    now = now or timezone.now()
    hour_end = now.replace(minute=0, second=0, microsecond=0)
    keep_from = now - timedelta(days=settings.HAZARDS_RAW_DAYS)
    rows = 0
    due = Sensor.objects.filter(rollup_from__lt=hour_end).values_list("pk", "rollup_from")
    for sensor_id, rollup_from in list(due):
        assert rollup_from is not None
        start = max(rollup_from, keep_from).replace(minute=0, second=0, microsecond=0)
        figures = _figures(
            Reading.objects.filter(sensor_id=sensor_id, at__gte=start, at__lt=hour_end)
        )
        with transaction.atomic():
            for row in figures:
                HourlyAggregate.objects.update_or_create(
                    sensor_id=sensor_id, hour=row["hour"], defaults=_fields(row)
                )
                rows += 1
            # Unless a reading came meanwhile: the current hour is the next round's.
            Sensor.objects.filter(pk=sensor_id, rollup_from=rollup_from).update(
                rollup_from=hour_end
            )
    return {"hours": rows, "purged": purge(keep_from)}


def _figures(readings: QuerySet[Reading]) -> Any:
    return (
        readings.annotate(hour=TruncHour("at", tzinfo=UTC))
        .values("sensor_id", "hour")
        .annotate(n=Count("id"), lo=Min("value"), hi=Max("value"), mean=Avg("value"))
        .order_by()
    )


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {"count": row["n"], "minimum": row["lo"], "maximum": row["hi"], "average": row["mean"]}


def purge(before: datetime, *, chunk: int = 5000) -> int:
    """Raw rows older than ``before``, sensor by sensor through the (sensor, at) index, in
    chunks (a short lock each)."""
    total = 0
    for sensor_id in Sensor.objects.values_list("pk", flat=True).order_by("pk"):
        while True:
            ids = list(
                Reading.objects.filter(sensor_id=sensor_id, at__lt=before).values_list(
                    "pk", flat=True
                )[:chunk]
            )
            if not ids:
                break
            with transaction.atomic():
                total += Reading.objects.filter(pk__in=ids).delete()[0]
            if len(ids) < chunk:
                break
    return total

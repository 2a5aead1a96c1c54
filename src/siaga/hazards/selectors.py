"""Reads shared by the API, the sensor page and the safety panel: a sensor's series for its
chart (raw readings while they are kept, hourly averages beyond), and the site's current
picture. A fixed number of queries each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from siaga.alarms.models import Alarm
from siaga.hazards.choices import SensorStatus
from siaga.hazards.models import HourlyAggregate, Reading, Sensor
from siaga.sites.models import Site

# Above this many hours a chart shows hourly averages, not each reading.
RAW_CHART_HOURS = 48
MAX_RAW_POINTS = 5000


@dataclass(frozen=True)
class Series:
    resolution: str
    since: datetime
    until: datetime
    points: list[tuple[datetime, float | None]]


def series(sensor: Sensor, *, hours: int = 24, until: datetime | None = None) -> Series:
    until = until or timezone.now()
    since = until - timedelta(hours=hours)
    raw_from = until - timedelta(days=settings.HAZARDS_RAW_DAYS)
    if hours <= RAW_CHART_HOURS and since >= raw_from:
        rows = list(
            Reading.objects.filter(sensor=sensor, at__gte=since, at__lte=until)
            .order_by("-at")
            .values_list("at", "value")[:MAX_RAW_POINTS]
        )
        rows.reverse()
        return Series("raw", since, until, rows)
    hourly = list(
        HourlyAggregate.objects.filter(sensor=sensor, hour__gte=since, hour__lte=until)
        .order_by("hour")
        .values_list("hour", "average")
    )
    return Series("hour", since, until, hourly)


def sparklines(
    sensors: list[Sensor], *, hours: int = 24, until: datetime | None = None, per_sensor: int = 96
) -> dict[object, list[tuple[datetime, float | None]]]:
    """Each sensor's recent values, thinned to at most ``per_sensor`` points: one query."""
    until = until or timezone.now()
    since = until - timedelta(hours=hours)
    points: dict[object, list[tuple[datetime, float | None]]] = {s.pk: [] for s in sensors}
    rows = (
        Reading.objects.filter(sensor__in=sensors, at__gte=since, at__lte=until)
        .order_by("sensor_id", "at")
        .values_list("sensor_id", "at", "value")
    )
    for sensor_id, at, value in rows.iterator(chunk_size=5000):
        points[sensor_id].append((at, value))
    for key, values in points.items():
        if len(values) > per_sensor:
            step = len(values) / per_sensor
            points[key] = [values[int(i * step)] for i in range(per_sensor)] + [values[-1]]
    return points


def site_sensors(site: Site) -> QuerySet[Sensor]:
    return (
        Sensor.objects.filter(site=site, active=True)
        .select_related("zone")
        .order_by("zone__name", "kind", "device_id")
    )


def silent_sensors(site: Site) -> QuerySet[Sensor]:
    return site_sensors(site).filter(status__in=[SensorStatus.SILENT, SensorStatus.UNAVAILABLE])


def active_hazard_alarms(site: Site) -> QuerySet[Alarm]:
    return (
        Alarm.objects.filter(site=site, source="hazards", active=True)
        .select_related("zone")
        .order_by("-last_raised_at")
    )

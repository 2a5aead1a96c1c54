"""The sensor page: what a sensor says now, its chart, its rules and its alarms. Thin: the
reads are the selectors', the scope the user's."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.alarms.models import Alarm
from siaga.hazards import chart, selectors
from siaga.hazards.choices import RuleKind
from siaga.hazards.models import RejectCounter, Sensor

PERIODS = {"6": 6, "24": 24, "168": 168, "720": 720}


@login_required
def sensor_page(request: HttpRequest, sensor_id: uuid.UUID) -> HttpResponse:
    sensor = (
        Sensor.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("site", "zone")
        .filter(pk=sensor_id)
        .first()
    )
    if sensor is None:
        raise Http404(_("No such sensor."))
    hours = PERIODS.get(request.GET.get("hours", ""), 24)
    series = selectors.series(sensor, hours=hours)
    rules = list(sensor.rules.select_related("state").order_by("kind", "alarm_kind"))
    marks = []
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.enabled and rule.threshold is not None:
            marks.append((rule.threshold, f"{rule.get_alarm_kind_display()} {rule.threshold:g}"))
            if rule.clear_at is not None and rule.clear_at != rule.threshold:
                marks.append((rule.clear_at, f"{rule.clear_at:g}"))
    svg = chart.line_chart(
        series.points, unit=sensor.unit, label=str(sensor), marks=[] if sensor.is_boolean else marks
    )
    # Its rules' alarms: their keys name the sensor (sensor:<id>:rule:<id>).
    alarms = Alarm.objects.filter(source="hazards", key__startswith=f"sensor:{sensor.pk}:")
    return render(
        request,
        "hazards/sensor.html",
        {
            "sensor": sensor,
            "series": series,
            "chart": svg,
            "hours": hours,
            "periods": list(PERIODS.items()),
            "rules": rules,
            "alarms": alarms.order_by("-last_raised_at")[:20],
            "rejections": RejectCounter.objects.filter(
                site=sensor.site, device_id=sensor.device_id
            ).order_by("code"),
        },
    )

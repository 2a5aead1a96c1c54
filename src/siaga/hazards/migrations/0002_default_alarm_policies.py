"""Alarm policies for the hazards' alarm kinds that 0002 of alarms does not name yet: which open
an incident (and so escalate), which only remind. Smoke, water (a leak is critical in a storage
hall, major elsewhere: both open an incident), heat, rising water and a door opened or motion in
a locked zone open one; power and silent sensors remind."""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (source, kind, from severity, opens incident, category, incident severity, remind minutes)
POLICIES = [
    ("hazards", "water_leak", "critical", True, "banjir", 1, 2),
    ("hazards", "smoke", "critical", True, "kebakaran", 1, 2),
    ("hazards", "temperature_rise", "major", True, "kebakaran", 1, 2),
    ("hazards", "water_level_high", "major", True, "banjir", 2, 5),
    ("hazards", "door_open_locked", "major", True, "penyusupan", 2, 5),
    ("hazards", "motion_locked", "major", True, "penyusupan", 2, 5),
    ("hazards", "mains_power_lost", "warning", False, "cctv_listrik", 3, 15),
    ("hazards", "sensor_silent", "warning", False, "lainnya", 4, 60),
]


def create(apps: Any, schema_editor: Any) -> None:
    policy_model = apps.get_model("alarms", "AlarmPolicy")
    for source, kind, severity, opens, category, incident_severity, remind in POLICIES:
        policy_model.objects.get_or_create(
            source=source,
            kind=kind,
            min_severity=severity,
            defaults={
                "opens_incident": opens,
                "incident_category": category,
                "incident_severity": incident_severity,
                "remind_minutes": remind,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("hazards", "0001_initial"), ("alarms", "0002_default_alarm_policies")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

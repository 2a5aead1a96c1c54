"""Default alarm policies: which machine-detected conditions open an incident (and so
escalate), and how often the rest remind the site's responders until acknowledged."""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (source, kind, from severity, opens incident, category, incident severity, remind minutes)
POLICIES = [
    ("", "", "warning", False, "lainnya", 4, 30),
    ("", "", "critical", True, "lainnya", 2, 5),
    ("hazards", "water_leak", "minor", True, "banjir", 2, 5),
    ("hazards", "smoke", "warning", True, "kebakaran", 1, 2),
    ("hazards", "temperature_high", "major", True, "kebakaran", 1, 2),
    ("hazards", "humidity_high", "warning", False, "banjir", 3, 15),
    ("access", "watchlist", "warning", True, "penyusupan", 2, 5),
    ("access", "overstay", "warning", False, "penyusupan", 3, 15),
    ("logistics", "seal_mismatch", "warning", True, "logistik_hilang", 2, 5),
    ("logistics", "wrong_destination", "warning", True, "logistik_hilang", 2, 5),
    ("cctv", "camera_offline", "warning", False, "cctv_listrik", 3, 15),
    ("cctv", "motion_armed_zone", "major", True, "penyusupan", 1, 2),
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
    dependencies = [("alarms", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

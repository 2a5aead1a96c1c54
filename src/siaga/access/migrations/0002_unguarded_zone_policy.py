"""An unguarded storage zone (people inside without the KPU + Polri/Bawaslu pair) reminds the
site's responders every 5 minutes until someone acknowledges it."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    policy_model = apps.get_model("alarms", "AlarmPolicy")
    policy_model.objects.get_or_create(
        source="access",
        kind="unguarded_zone",
        min_severity="warning",
        defaults={
            "opens_incident": False,
            "incident_category": "penyusupan",
            "incident_severity": 2,
            "remind_minutes": 5,
        },
    )


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("alarms", "AlarmPolicy").objects.filter(
        source="access", kind="unguarded_zone"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_gate_and_visitors"),
        ("alarms", "0002_default_alarm_policies"),
    ]

    operations = [migrations.RunPython(create, remove)]

"""An overdue extinguisher or pump is no emergency of the minute: its alarm reminds the site's
responders once a day until acknowledged (the default for warnings is every 30 minutes), and
opens no incident. A superuser may change the row in the admin like any other policy."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    policy_model = apps.get_model("alarms", "AlarmPolicy")
    policy_model.objects.get_or_create(
        source="safety",
        kind="",
        min_severity="warning",
        defaults={
            "opens_incident": False,
            "incident_category": "lainnya",
            "incident_severity": 4,
            "remind_minutes": 24 * 60,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("safety", "0001_initial"), ("alarms", "0003_alarm_message_text")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

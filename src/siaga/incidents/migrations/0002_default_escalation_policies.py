"""Default escalation policies, written from the Kapolres's order and the 2024 practice:
the kabupaten's chiefs first, their deputies next, the province after that. Data: change it
in the admin for the next election."""

from __future__ import annotations

from typing import Any

from django.db import migrations

POLICIES: list[dict[str, Any]] = [
    {
        "name": "Kejadian kritis dan tinggi (tingkat 1–2)",
        "category": "",
        "max_severity": 2,
        "priority": 10,
        "tiers": [
            (
                1,
                "kabupaten",
                [
                    "police_commander:Kapolres",
                    "kpu_commissioner:Divisi Logistik",
                    "bawaslu_supervisor",
                ],
                5,
                2,
            ),
            (2, "kabupaten", ["police_commander:Kabag Ops", "kpu_commissioner:Ketua"], 30, 5),
            (3, "provinsi", ["police_commander", "kpu_commissioner", "bawaslu_supervisor"], 15, 5),
        ],
    },
    {
        "name": "Kejadian sedang dan rendah (tingkat 3–4)",
        "category": "",
        "max_severity": 4,
        "priority": 100,
        "tiers": [
            (
                1,
                "kabupaten",
                ["kpu_operator", "police_commander:Kabag Ops", "bawaslu_supervisor"],
                30,
                15,
            ),
            (2, "kabupaten", ["police_commander:Kapolres", "kpu_commissioner:Ketua"], 60, 30),
        ],
    },
]


def create(apps: Any, schema_editor: Any) -> None:
    policy_model = apps.get_model("incidents", "EscalationPolicy")
    tier_model = apps.get_model("incidents", "EscalationTier")
    for spec in POLICIES:
        policy, created = policy_model.objects.get_or_create(
            name=spec["name"],
            defaults={
                "category": spec["category"],
                "max_severity": spec["max_severity"],
                "priority": spec["priority"],
            },
        )
        if not created:
            continue
        for number, level, targets, ack, remind in spec["tiers"]:
            tier_model.objects.create(
                policy=policy,
                number=number,
                level=level,
                targets=targets,
                ack_minutes=ack,
                remind_minutes=remind,
            )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

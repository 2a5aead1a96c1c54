from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class AlarmsConfig(AppConfig):
    name = "siaga.alarms"
    label = "alarms"
    verbose_name = _("Alarms")
    periodic_jobs = [
        Periodic(
            "alarms.remind",
            "siaga.alarms.services.remind_due_alarms",
            "ESCALATION_SWEEP_SECONDS",
            batch=True,
        )
    ]

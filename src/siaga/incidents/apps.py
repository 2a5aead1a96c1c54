from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class IncidentsConfig(AppConfig):
    name = "siaga.incidents"
    label = "incidents"
    verbose_name = _("Incidents")
    # Each due escalation is taken under a row lock: two workers never escalate one twice.
    periodic_jobs = [
        Periodic(
            "incidents.escalate",
            "siaga.incidents.services.escalate_due",
            "ESCALATION_SWEEP_SECONDS",
            batch=True,
        )
    ]

    def ready(self) -> None:
        from siaga.accounts.permissions import Action
        from siaga.sites import chooser

        chooser.register_purpose("report", chooser.Purpose(Action.REPORT_INCIDENT))

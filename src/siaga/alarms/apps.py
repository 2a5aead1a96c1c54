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

    def ready(self) -> None:
        # The ledger, a lower floor, tells whoever listens that its database was rolled back.
        from siaga.alarms.services import clear_ledger_rollback, raise_ledger_rollback
        from siaga.ledger import rollback

        rollback.on_detected(raise_ledger_rollback)
        rollback.on_decided(clear_ledger_rollback)

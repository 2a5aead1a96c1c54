from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlarmsConfig(AppConfig):
    name = "siaga.alarms"
    label = "alarms"
    verbose_name = _("Alarms")

    def ready(self) -> None:
        # The ledger, a lower floor, tells whoever listens that its database was rolled back.
        from siaga.alarms.services import clear_ledger_rollback, raise_ledger_rollback
        from siaga.ledger import rollback

        rollback.on_detected(raise_ledger_rollback)
        rollback.on_decided(clear_ledger_rollback)

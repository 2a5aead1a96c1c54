from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class LedgerConfig(AppConfig):
    name = "siaga.ledger"
    label = "ledger"
    verbose_name = _("Custody ledger")
    # Asked twice a minute; signs when SIAGA_LEDGER_CHECKPOINT_SECONDS have passed with new entries.
    periodic_jobs = [Periodic("ledger.checkpoint", "siaga.ledger.tasks.checkpoint_if_due_now", 30)]

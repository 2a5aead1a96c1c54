from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class OpsConfig(AppConfig):
    name = "siaga.ops"
    label = "ops"
    verbose_name = _("Operations")
    # SIAGA watching itself: the readiness checks, raised as system alarms to the admins.
    periodic_jobs = [Periodic("ops.watch", "siaga.ops.services.watch", "OPS_WATCH_SECONDS")]

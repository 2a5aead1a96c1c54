from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class PrivacyConfig(AppConfig):
    name = "siaga.privacy"
    label = "privacy"
    verbose_name = _("Personal data")
    # The worker asks every minute; the purge itself runs once per SIAGA_RETENTION_PURGE_SECONDS.
    periodic_jobs = [
        Periodic("privacy.purge", "siaga.privacy.services.purge_if_due", 60, batch=True)
    ]

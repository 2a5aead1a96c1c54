from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "siaga.privacy"
    label = "privacy"
    verbose_name = _("Personal data")
    # The periodic jobs this app declares (the worker's sweep runs them): name, callable path,
    # and how often, in seconds, from settings.
    periodic_jobs = {
        "privacy.purge": ("siaga.privacy.services.purge_if_due", "RETENTION_PURGE_SECONDS")
    }

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    name = "siaga.logistics"
    label = "logistics"
    verbose_name = _("Logistics and custody")

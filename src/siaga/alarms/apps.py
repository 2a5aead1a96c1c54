from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlarmsConfig(AppConfig):
    name = "siaga.alarms"
    label = "alarms"
    verbose_name = _("Alarms")

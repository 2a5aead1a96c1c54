from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "siaga.incidents"
    label = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        from siaga.accounts.permissions import Action
        from siaga.sites import chooser

        chooser.register_purpose("report", chooser.Purpose(Action.REPORT_INCIDENT))

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class SafetyConfig(AppConfig):
    name = "siaga.safety"
    label = "safety"
    verbose_name = _("Safety equipment")
    # Reminders before an item's dates pass, an alarm once they have (docs/safety.md).
    periodic_jobs = [
        Periodic("safety.sweep", "siaga.safety.services.sweep", "SAFETY_SWEEP_SECONDS", batch=True)
    ]

    def ready(self) -> None:
        from siaga.accounts.permissions import Action
        from siaga.alarms.choices import register_kind_labels
        from siaga.safety import panels
        from siaga.safety.choices import ALARM_EXPIRED, ALARM_SERVICE_OVERDUE, ALARM_SOURCE
        from siaga.sites import chooser

        register_kind_labels(
            ALARM_SOURCE,
            {
                ALARM_EXPIRED: _("Safety equipment expired"),
                ALARM_SERVICE_OVERDUE: _("Safety equipment service overdue"),
            },
        )
        chooser.register_purpose("safety", chooser.Purpose(Action.VIEW, link="safety:index"))
        panels.register_own_panels()

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class AccessConfig(AppConfig):
    name = "siaga.access"
    label = "access"
    verbose_name = _("Gate and visitors")
    # Expires unused visits and raises the overstay alarms.
    periodic_jobs = [
        Periodic(
            "access.sweep", "siaga.access.services.sweep", "ESCALATION_SWEEP_SECONDS", batch=True
        )
    ]

    def ready(self) -> None:
        # The place chooser offers the gate's own facts: where a person holds a pass or last
        # worked the gate.
        from siaga.access.selectors import posted_sites
        from siaga.accounts.permissions import Action
        from siaga.sites import chooser

        chooser.register_purpose("gate", chooser.Purpose(Action.VIEW, link="access:gate"))
        chooser.register_purpose(
            "walk_in", chooser.Purpose(Action.OPERATE_GATE, link="access:walk_in")
        )
        chooser.register_post_source(posted_sites)

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    name = "siaga.logistics"
    label = "logistics"
    verbose_name = _("Logistics and custody")

    def ready(self) -> None:
        from siaga.accounts.permissions import Action
        from siaga.sites import chooser
        from siaga.sites.choices import SiteKind

        chooser.register_purpose(
            "operator",
            chooser.Purpose(
                Action.RECORD_LOGISTICS,
                (SiteKind.WAREHOUSE, SiteKind.PPK, SiteKind.PPS),
                link="logistics:operator-home",
            ),
        )
        chooser.register_purpose("tps", chooser.Purpose(Action.VIEW, (SiteKind.TPS,)))
        chooser.register_purpose("destination", chooser.Purpose(Action.VIEW))

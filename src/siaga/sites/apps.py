from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SitesConfig(AppConfig):
    name = "siaga.sites"
    label = "sites"
    verbose_name = _("Sites and zones")

    def ready(self) -> None:
        from siaga.accounts.permissions import Action
        from siaga.sites import chooser

        # A list's site filter reads every site the user may view.
        chooser.register_purpose(chooser.FILTER_PURPOSE, chooser.Purpose(Action.VIEW))

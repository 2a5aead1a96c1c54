from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "siaga.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from siaga.core.files import sqlite_owner_only

        connection_created.connect(sqlite_owner_only, dispatch_uid="siaga.sqlite_owner_only")

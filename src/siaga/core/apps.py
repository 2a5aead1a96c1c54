from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class CoreConfig(AppConfig):
    name = "siaga.core"
    label = "core"
    verbose_name = _("Core")
    # Asked every minute; a backup is made when the newest is SIAGA_BACKUP_EVERY_HOURS old
    # (one worker at a time, under a lock), in its own thread like every periodic job.
    periodic_jobs = [Periodic("core.backup", "siaga.core.backup.backup_if_due", 60)]

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.db.backends.signals import connection_created

        from siaga.core.files import sqlite_file_replaced, sqlite_owner_only

        connection_created.connect(sqlite_owner_only, dispatch_uid="siaga.sqlite_owner_only")
        request_started.connect(sqlite_file_replaced, dispatch_uid="siaga.sqlite_file_replaced")

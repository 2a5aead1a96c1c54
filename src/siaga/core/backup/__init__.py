"""Backups that prove themselves: ``siaga backup``, ``siaga restore`` and the scheduled backup
(``backup_if_due``, called by the worker). See docs/operations.md, "Backups".

Modules: ``create`` (one archive), ``archive`` (the tar and its manifest), ``sealing`` (the
passphrase encryption), ``database`` (the consistent copy and putting it back), ``restore``
(into a SIAGA_HOME, staged), ``checks`` (what the restored instance must prove), ``schedule``
(due, lock, retention).
"""

from __future__ import annotations

from siaga.core.backup.create import Made, create_backup
from siaga.core.backup.restore import Restored, restore_archive
from siaga.core.backup.schedule import backup_if_due, prune

__all__ = ["Made", "Restored", "backup_if_due", "create_backup", "prune", "restore_archive"]

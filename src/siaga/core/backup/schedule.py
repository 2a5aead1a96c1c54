"""Scheduled backups with retention, for the worker's periodic loop (``backup_if_due``).

Several workers may call it at once, on one machine or several: the one that takes the lock
file in the backup folder (``flock``) and, on PostgreSQL, a session advisory lock, decides; the
others return at once. "Due" is read from the newest archive's name in the folder, under the
lock, so a worker restarted, a second worker or a manual ``siaga backup`` all count.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from siaga.core.backup import archive
from siaga.core.backup.create import create_backup

logger = logging.getLogger("siaga.backup")

LOCK_FILE = ".siaga-backup.lock"
# pg_try_advisory_lock's key: "SIAGABAK" read as a 64-bit number, shared by every worker.
ADVISORY_KEY = int.from_bytes(b"SIAGABAK", "big") - (1 << 63)
# A temporary file or folder this old under the lock is what a killed backup left.
STALE_SECONDS = 60 * 60


class Busy(Exception):
    """Another process holds the backup lock."""


@contextmanager
def backup_lock(directory: Path, *, wait: bool) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy from None
        advisory = connection.vendor == "postgresql"
        if advisory:
            with connection.cursor() as cursor:
                while True:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
                    if cursor.fetchone()[0]:
                        break
                    if not wait:
                        raise Busy
                    time.sleep(0.5)
        try:
            yield
        finally:
            if advisory:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
    finally:
        os.close(fd)  # releases the flock


def archives(directory: Path) -> list[tuple[datetime, Path]]:
    """Our archives in ``directory``, oldest first (by the time in their names)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        when = archive.archive_time(path.name)
        if when is not None and path.is_file():
            found.append((when, path))
    return sorted(found)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` archives (never the newest); returns the deleted."""
    keep = max(1, keep)
    found = archives(directory)
    doomed = [path for _when, path in found[:-keep]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _clear_stale(directory: Path) -> None:
    import shutil

    limit = time.time() - STALE_SECONDS
    for path in directory.glob(".siaga-backup-*"):
        try:
            if path.stat().st_mtime < limit:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
        except FileNotFoundError:
            continue


def passphrase_from_settings() -> str | None:
    path = settings.SIAGA_BACKUP_PASSPHRASE_FILE
    if not path:
        return None
    return Path(path).read_text(encoding="utf-8").rstrip("\r\n")


def backup_if_due(now: datetime | None = None) -> Path | None:
    """Make a backup into SIAGA_BACKUP_DIR when the newest one there is SIAGA_BACKUP_EVERY_HOURS
    old (or there is none), then keep the newest SIAGA_BACKUP_KEEP; None when not due, when
    scheduled backups are off (0 hours), or when another process is making one."""
    every = int(settings.SIAGA_BACKUP_EVERY_HOURS)
    if every <= 0:
        return None
    now = now or timezone.now()
    directory = Path(settings.SIAGA_BACKUP_DIR)
    newest = archives(directory)
    if newest and now - newest[-1][0] < timedelta(hours=every):
        return None  # the cheap answer, without the lock, for most calls
    try:
        with backup_lock(directory, wait=False):
            newest = archives(directory)
            if newest and now - newest[-1][0] < timedelta(hours=every):
                return None
            _clear_stale(directory)
            made = create_backup(directory, passphrase=passphrase_from_settings(), now=now)
            for warning in made.warnings:
                logger.warning("backup %s: %s", made.path.name, warning)
            deleted = prune(directory, int(settings.SIAGA_BACKUP_KEEP))
    except Busy:
        return None
    logger.info(
        "backup %s written (%d members); %d old archive(s) removed",
        made.path.name,
        len(made.manifest["members"]),
        len(deleted),
    )
    return made.path

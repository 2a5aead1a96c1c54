"""The database file is for the server's user alone (it holds personal data)."""

from __future__ import annotations

import os
import stat
from typing import Any


def sqlite_owner_only(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On a connection to a SQLite file: the file and its WAL and shared-memory files 0600.

    SQLite creates the file on the first connect with the process's umask (0644 usually), and
    its -wal and -shm files with the file's mode; three stat calls per connection."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for path in (name, f"{name}-wal", f"{name}-shm"):
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(path, mode & 0o700)

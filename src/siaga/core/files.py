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
    try:
        # Which file this connection opened: a file put in its place is another inode.
        connection.siaga_inode = os.stat(name).st_ino
    except FileNotFoundError:
        connection.siaga_inode = None
    for path in (name, f"{name}-wal", f"{name}-shm"):
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(path, mode & 0o700)


def sqlite_file_replaced(sender: Any, **kwargs: Any) -> None:
    """At the start of a request: a kept SQLite connection whose file was replaced (restored,
    put back, moved away) still reads and writes the old file; close it, so that the request
    opens the file that is there now."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.vendor != "sqlite" or connection.connection is None:
            continue
        name = str(connection.settings_dict.get("NAME") or "")
        opened = getattr(connection, "siaga_inode", None)
        try:
            now = os.stat(name).st_ino
        except OSError:
            now = None
        if opened is not None and now != opened:
            connection.close()

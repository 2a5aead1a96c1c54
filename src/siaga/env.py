"""Small typed readers for SIAGA_* environment variables.

Every reader raises ``ImproperlyConfigured`` naming the variable, so a bad value stops start-up
with a message an operator can act on.
"""

from __future__ import annotations

import math
import os
import secrets
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value) or value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a number of at least {minimum}.")
    return value


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    value = os.environ.get(name, default).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an absolute http(s) URL (e.g. https://siaga.example)."
        )
    return value.rstrip("/")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} is set but empty; give a comma-separated list.")
    return items


def env_int_list(name: str, default: list[int], *, minimum: int = 0) -> list[int]:
    """Comma-separated integers ("30,7"), each at least ``minimum``."""
    values = []
    for item in env_list(name, [str(d) for d in default]):
        try:
            value = int(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an integer.") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name}: {item!r} must be at least {minimum}.")
        values.append(value)
    return values


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    path = Path(raw) if raw else default
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ImproperlyConfigured(f"{name}={str(path)!r} exists and is not a directory.")
    return path


def env_file(name: str) -> Path | None:
    """An optional path to a readable file (a passphrase, say); None when unset or empty."""
    raw = os.environ.get(name)
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ImproperlyConfigured(f"{name}={str(path)!r} is not a readable file.")
    return path


def env_time_zone(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a known IANA time zone (e.g. Asia/Jakarta)."
        ) from None
    return value


def env_database(name: str, home: Path) -> dict[str, object]:
    """A Django DATABASES entry from a URL; SQLite in WAL mode under ``home`` by default."""
    import dj_database_url

    raw = os.environ.get(name)
    url = raw or f"sqlite:///{home / 'siaga.sqlite3'}"
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise ImproperlyConfigured(f"{name}={url!r} is not a database URL: {exc}") from None
    engine = str(config.get("ENGINE", ""))
    if engine == "django.db.backends.sqlite3":
        # Kept open between requests, as on PostgreSQL: opening a SQLite file and running its
        # PRAGMAs cost more than a whole authenticated request. A file put in its place (a
        # restore, a copy put back) is noticed at the next request (siaga.core.files).
        # FULL: a commit is on the disk before the client is told (NORMAL in WAL mode may lose
        # the last commits to a power cut or an OS crash). SIAGA_SQLITE_SYNCHRONOUS=NORMAL
        # trades that for speed; bench/gate.py and bench/custody.py print the cost.
        synchronous = os.environ.get("SIAGA_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
            raise ImproperlyConfigured(
                f"SIAGA_SQLITE_SYNCHRONOUS={synchronous!r}: FULL (default), EXTRA or NORMAL."
            )
        config["OPTIONS"] = {
            # WAL lets the worker write while the web server reads; IMMEDIATE avoids
            # "database is locked" upgrades in the middle of a transaction.
            "init_command": (
                f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; "
                "PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # Tests use a file too, not SQLite's shared in-memory cache: its table locks ignore
        # the busy timeout, so concurrency there would not be the concurrency of production.
        config["TEST"] = {"NAME": str(home / "test-siaga.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        # No JIT: SIAGA's queries run in milliseconds, and PostgreSQL decides to compile them
        # from a cost estimate; a reconciliation's correlated EXISTS clauses are estimated high
        # enough that compiling took 40 ms, and optimising it 900 ms, more than the query.
        options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
        config["OPTIONS"] = options
    else:
        raise ImproperlyConfigured(
            f"{name}={url!r}: SIAGA runs on SQLite or PostgreSQL, not {engine or 'this scheme'}."
        )
    return config


def secret_key(name: str, home: Path, *, file_name: str = "secret_key") -> str:
    """The secret key from the environment, else one generated once and kept under ``home``
    (in ``file_name``, readable by its owner only)."""
    raw = os.environ.get(name)
    if raw is not None:
        if len(raw) < 32:
            raise ImproperlyConfigured(f"{name} must be at least 32 characters long.")
        return raw
    key_file = home / file_name
    if key_file.exists():
        return key_file.read_text().strip()
    return create_once(key_file, secrets.token_urlsafe(50).encode()).decode().strip()


def create_once(path: Path, content: bytes) -> bytes:
    """Write ``content`` to ``path`` (readable by its owner only) unless the file exists, and
    return what the file holds: ours, or that of a process that made it first.

    The file appears whole or not at all: it is written under a name of this process's own,
    then hard-linked into place, which fails where the file exists. A process starting at the
    same moment (the web server and a worker, or parallel test processes) never reads a file
    another one has created but not yet written, nor overwrites it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        draft.unlink()
    return content

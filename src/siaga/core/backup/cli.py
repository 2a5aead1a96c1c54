"""What ``siaga backup`` and ``siaga restore`` share: the passphrase options and errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import InvalidInput, SiagaError


def add_passphrase_arguments(parser: CommandParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file", type=Path, help="read the passphrase from this file (one line)"
    )
    group.add_argument(
        "--passphrase-env", metavar="VAR", help="read the passphrase from this variable"
    )


def passphrase(options: dict[str, Any]) -> str | None:
    if options.get("passphrase_file"):
        path: Path = options["passphrase_file"]
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeError) as exc:
            raise InvalidInput(
                "backup_passphrase_missing",
                _("The passphrase file cannot be read: %(path)s.") % {"path": str(path)},
                detail=str(exc),
            ) from None
    elif options.get("passphrase_env"):
        value = os.environ.get(options["passphrase_env"], "")
    else:
        return None
    if not value:
        raise InvalidInput("backup_passphrase_missing", _("The passphrase given is empty."))
    return value


def fail(exc: SiagaError) -> CommandError:
    detail = f" ({exc.detail})" if exc.detail else ""
    return CommandError(f"{exc.code}: {exc.message}{detail}", returncode=1)

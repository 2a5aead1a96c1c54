"""The ``siaga`` command: Django's management commands under SIAGA's settings.

``siaga demo``, ``siaga serve``, ``siaga worker`` and ``siaga regions load`` are SIAGA's own;
every Django command (``siaga migrate``, ``siaga createsuperuser``…) works too.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else ["siaga", *argv])
    if len(args) == 1:
        args.append("help")
    try:
        execute_from_command_line(args)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"siaga: configuration error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

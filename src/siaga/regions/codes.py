"""Kemendagri region codes: ``16``, ``16.08``, ``16.08.01``, ``16.08.01.2001``."""

from __future__ import annotations

import re

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import InvalidInput

# ASCII digits only: "\d" would also accept Arabic-Indic and other Unicode digits.
REGION_CODE_PATTERN = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"
REGION_CODE_RE = re.compile(REGION_CODE_PATTERN)


def is_region_code(value: str) -> bool:
    return REGION_CODE_RE.fullmatch(value) is not None


def parse_region_code(value: str) -> str:
    """The code as given, or ``InvalidInput("region_code_malformed")``."""
    if not isinstance(value, str) or not is_region_code(value):
        raise InvalidInput(
            "region_code_malformed",
            _(
                "A region code is dotted Kemendagri digits such as 16, 16.08, 16.08.01 "
                "or 16.08.01.2001."
            ),
            detail={"code": value if isinstance(value, str) else repr(value)},
            status=400,
        )
    return value


def level_of(code: str) -> int:
    return code.count(".") + 1


def parent_code(code: str) -> str | None:
    head, dot, _tail = code.rpartition(".")
    return head if dot else None


def covering_codes(code: str) -> list[str]:
    """``code`` and every region above it: "16.08.01" -> ["16", "16.08", "16.08.01"]."""
    parts = code.split(".")
    return [".".join(parts[: n + 1]) for n in range(len(parts))]


def in_subtree(code: str, root: str) -> bool:
    """True when ``code`` is ``root`` or lies below it."""
    return code == root or code.startswith(root + ".")


def subtree_q(field: str, roots: list[str] | set[str] | tuple[str, ...]) -> Q:
    """A filter for rows whose region code (at ``field``) lies in any of the ``roots`` subtrees.

    An empty list of roots matches nothing.
    """
    q = Q(pk__in=[])
    for root in roots:
        q |= Q(**{field: root}) | Q(**{f"{field}__startswith": root + "."})
    return q

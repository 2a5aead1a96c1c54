"""Client-sent ids make creating calls idempotent: the same call again returns the first row,
the same id with other data is a conflict. Shared by every app's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from siaga.core.errors import Conflict


@dataclass(frozen=True)
class Created[T]:
    """The row, and whether this call created it (False: a retry of an earlier call)."""

    obj: T
    created: bool


def _value(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name, None)
    return obj


def replay_or_conflict(existing: Any, wanted: dict[str, Any]) -> None:
    """A retry with the same id must carry the same data; anything else reuses an id. A key
    may follow relations: ``"visitor.nik"``."""
    differing = sorted(k for k, v in wanted.items() if _value(existing, k) != v)
    if differing:
        raise Conflict(
            "id_reused",
            _("This id was already used for a different record."),
            detail={"id": str(existing.pk), "fields": differing},
        )

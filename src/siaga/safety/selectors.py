"""What is due: an item's dates as days left on its site's calendar, and the lists of the
site page and the API (overdue, due soon, everything per zone)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from siaga.safety.choices import DueKind, EquipmentState
from siaga.safety.models import Equipment
from siaga.safety.rules import site_today


@dataclass(frozen=True)
class Due:
    """One of an item's dates: ``days`` left (negative once it has passed)."""

    kind: str
    on: dt.date
    days: int

    @property
    def passed(self) -> bool:
        return self.days < 0

    @property
    def ago(self) -> int:
        return -self.days

    @property
    def label(self) -> str:
        return str(DueKind(self.kind).label)


def dues(item: Equipment, today: dt.date) -> list[Due]:
    """The item's watched dates, soonest first; none for a removed item."""
    if item.state == EquipmentState.REMOVED:
        return []
    found = [
        Due(kind, on, (on - today).days)
        for kind, on in ((DueKind.EXPIRY, item.expiry_on), (DueKind.SERVICE, item.next_service_on))
        if on is not None
    ]
    return sorted(found, key=lambda due: (due.on, due.kind))


def passed(item: Equipment, today: dt.date) -> list[Due]:
    return [due for due in dues(item, today) if due.passed]


@dataclass
class Row:
    """An item as the page and the API's due list show it."""

    item: Equipment
    dues: list[Due]
    overdue: bool
    due_soon: bool
    # The page's "record a service" form for this item, where the reader may record one.
    service_form: Any = None

    @property
    def first(self) -> Due | None:
        return self.dues[0] if self.dues else None


def row(item: Equipment, today: dt.date, within: int) -> Row:
    found = dues(item, today)
    overdue = any(due.passed for due in found)
    soon = not overdue and any(due.days <= within for due in found)
    return Row(item=item, dues=found, overdue=overdue, due_soon=soon)


def due_window(within: int | None = None) -> int:
    return settings.SAFETY_DUE_SOON_DAYS if within is None else within


def possibly_due(items: QuerySet[Equipment], latest: dt.date) -> QuerySet[Equipment]:
    """Items with a date on or before ``latest`` (the database's coarse cut, before each
    site's own calendar decides)."""
    return items.exclude(state=EquipmentState.REMOVED).filter(
        Q(expiry_on__lte=latest) | Q(next_service_on__lte=latest)
    )


def due_rows(
    items: QuerySet[Equipment], *, within: int | None = None, now: dt.datetime | None = None
) -> list[Row]:
    """Overdue and due-within-``within``-days items among ``items``, the most urgent first."""
    window = due_window(within)
    # A site's calendar is at most a day ahead of UTC's: the cut keeps everything that may
    # be due, and each row is then judged on its own site's date.
    latest = (now or timezone.now()).date() + dt.timedelta(days=window + 1)
    candidates = possibly_due(items, latest).select_related("site", "zone", "responsible")
    rows = []
    for item in candidates:
        found = row(item, site_today(item.site, now), window)
        if found.overdue or found.due_soon:
            rows.append(found)
    return sorted(rows, key=lambda r: (not r.overdue, r.first.days if r.first else 0))


def by_zone(items: list[Equipment], today: dt.date, within: int) -> list[dict[str, Any]]:
    """Every item of a site, grouped by zone (items without a zone last)."""
    groups: dict[Any, dict[str, Any]] = {}
    for item in items:
        key = item.zone_id
        if key not in groups:
            groups[key] = {"zone": item.zone, "rows": []}
        groups[key]["rows"].append(row(item, today, within))
    ordered = sorted(
        groups.values(), key=lambda g: (g["zone"] is None, g["zone"].name if g["zone"] else "")
    )
    return ordered


def eligible_responsibles(site: Any) -> QuerySet[Any]:
    """Who may be an item's responsible officer at ``site``: active people whose role may
    service equipment, in a unit covering the site (the rule ``check_responsible`` keeps)."""
    from siaga.accounts.models import Membership, User
    from siaga.accounts.permissions import ROLE_ACTIONS, Action
    from siaga.regions.codes import covering_codes

    roles = [r for r, actions in ROLE_ACTIONS.items() if Action.SERVICE_SAFETY_EQUIPMENT in actions]
    members = Membership.objects.filter(
        active=True, role__in=roles, unit__region_id__in=covering_codes(site.region_id)
    ).values("user_id")
    return User.objects.filter(pk__in=members, is_active=True).order_by(
        "first_name", "last_name", "username"
    )

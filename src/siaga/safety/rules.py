"""The rules an item of safety equipment keeps, checked alike by the services (API, pages)
and by the admin's form: each broken rule is one stable code and one message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import InvalidInput
from siaga.regions.timezones import time_zone_of
from siaga.safety.choices import VARIANT_REQUIRED, VARIANTS, EquipmentKind, EquipmentState

if TYPE_CHECKING:
    from siaga.safety.models import Equipment
    from siaga.sites.models import Site

# A date this far from today is a typing slip (0001-01-01, 9999-12-31), not equipment.
EARLIEST = dt.date(1970, 1, 1)
YEARS_AHEAD_MAX = 30


def site_today(site: Site, now: dt.datetime | None = None) -> dt.date:
    """Today on the site's wall clock (WIB, WITA or WIT): a date passes at local midnight."""
    return (now or timezone.now()).astimezone(time_zone_of(site.region_id)).date()


def check_date_range(value: dt.date | None, today: dt.date, *, field: str) -> None:
    if value is None:
        return
    latest = today.replace(year=today.year + YEARS_AHEAD_MAX, day=min(today.day, 28))
    if not EARLIEST <= value <= latest:
        raise InvalidInput(
            "date_out_of_range",
            _("This date is not plausible (%(first)s to %(last)s).")
            % {"first": EARLIEST.isoformat(), "last": latest.isoformat()},
            detail={"field": field},
        )


def check_size(kind: str, size_kg: Decimal | None) -> None:
    from siaga.safety.models import SIZE_MAX_KG

    if size_kg is None:
        if kind == EquipmentKind.FIRE_EXTINGUISHER:
            raise InvalidInput(
                "equipment_size_required",
                _("An APAR is recorded with its size in kilograms."),
                detail={"field": "size_kg"},
            )
        return
    if kind != EquipmentKind.FIRE_EXTINGUISHER:
        raise InvalidInput(
            "equipment_size_only_for_extinguisher",
            _("Only a fire extinguisher (APAR) has a size in kilograms."),
            detail={"field": "size_kg"},
        )
    if not size_kg.is_finite() or not Decimal("0") < size_kg <= SIZE_MAX_KG:
        raise InvalidInput(
            "equipment_size_invalid",
            _("An APAR's size is more than 0 and at most %(max)s kg.") % {"max": SIZE_MAX_KG},
            detail={"field": "size_kg", "size_kg": str(size_kg)},
        )


def check_equipment(item: Equipment, *, today: dt.date | None = None) -> None:
    """Every rule that the item's own fields must keep (its site and zone, its type and size,
    its dates, its responsible officer). Raises the first ``InvalidInput`` broken."""
    if item.kind not in EquipmentKind.values:
        raise InvalidInput(
            "equipment_kind_unknown",
            _("Unknown kind of safety equipment."),
            detail={"kind": item.kind, "allowed": list(EquipmentKind.values)},
        )
    if item.state not in EquipmentState.values:
        raise InvalidInput(
            "equipment_state_unknown",
            _("Unknown state of equipment."),
            detail={"state": item.state, "allowed": list(EquipmentState.values)},
        )
    allowed = VARIANTS[EquipmentKind(item.kind)]
    if item.variant and item.variant not in allowed:
        raise InvalidInput(
            "equipment_variant_invalid",
            _("This type does not fit this kind of equipment."),
            detail={"variant": item.variant, "allowed": sorted(allowed)},
        )
    if not item.variant and item.kind in VARIANT_REQUIRED:
        raise InvalidInput(
            "equipment_variant_required",
            _("An APAR is recorded with its agent: powder, CO2, foam or water."),
            detail={"field": "variant", "allowed": sorted(allowed)},
        )
    check_size(item.kind, item.size_kg)
    site = item.site
    if item.zone_id is not None and item.zone is not None and item.zone.site_id != site.pk:
        raise InvalidInput("zone_unknown", _("No such zone at this site."))
    today = today or site_today(site)
    for field in ("installed_on", "expiry_on", "next_service_on"):
        check_date_range(getattr(item, field), today, field=field)
    if item.installed_on > today:
        raise InvalidInput(
            "equipment_installed_in_future",
            _("The installation date lies in the future."),
            detail={"field": "installed_on", "today": today.isoformat()},
        )
    if item.expiry_on is None and item.next_service_on is None:
        raise InvalidInput(
            "equipment_date_required",
            _("Give an expiry date, a next service date, or both: they are what is watched."),
        )
    if item.expiry_on is not None and item.expiry_on < item.installed_on:
        raise InvalidInput(
            "equipment_expiry_before_installation",
            _("The expiry date lies before the installation date."),
            detail={"field": "expiry_on"},
        )
    if item.next_service_on is not None and item.next_service_on < item.installed_on:
        raise InvalidInput(
            "equipment_service_before_installation",
            _("The next service date lies before the installation date."),
            detail={"field": "next_service_on"},
        )
    check_responsible(item.responsible if item.responsible_id else None, site)


def check_responsible(user: Any, site: Site) -> None:
    """The responsible officer is someone who may record the item's service at its site: a
    KPU operator, guard or admin of a unit covering it (not Bawaslu, not another region)."""
    if user is None or not user.is_active:
        raise InvalidInput(
            "responsible_unknown",
            _("No such active user to be responsible."),
            detail={"field": "responsible"},
        )
    if not user_can(user, Action.SERVICE_SAFETY_EQUIPMENT, site.region_id):
        raise InvalidInput(
            "responsible_out_of_scope",
            _(
                "The responsible officer must be able to service equipment at this site "
                "(a KPU operator, guard or admin of its region)."
            ),
            detail={"field": "responsible"},
        )

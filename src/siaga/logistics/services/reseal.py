"""Opening a package before witnesses, and resolving discrepancies."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms import services as alarms
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.ledger import services as ledger
from siaga.ledger.models import Entry
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    SealState,
)
from siaga.logistics.models import (
    Discrepancy,
    HandoverPackage,
    ItemType,
    Package,
    PackageLine,
    Seal,
)
from siaga.logistics.services.common import (
    Line,
    Witness,
    _as_uuid,
    _derived_id,
    _fact,
    _is_uuid,
    _items,
    _no_repeats,
    _quantity,
    _raise_discrepancy,
    _witnesses,
    package_code,
)
from siaga.logistics.services.packing import _check_serials, _refuse_reused
from siaga.sites.models import Site


def reseal_package(
    *,
    actor: User,
    id: uuid.UUID,
    package: str,
    new_seals: Sequence[str],
    counted: Sequence[Line],
    witnesses: Sequence[Witness],
    note: str = "",
    now: dt.datetime | None = None,
) -> Package:
    """A package opened in front of witnesses: its contents counted, its old seals recorded as
    broken, new seals applied. Counted short becomes a shortfall discrepancy."""
    now = now or timezone.now()
    code = package_code(package)
    found = (
        Package.objects.select_related("location", "election", "destination")
        .filter(code=code)
        .first()
    )
    if found is None or not user_can(actor, Action.VIEW, found.destination.region_id):
        raise NotFound("package_unknown", _("No such package."), detail={"package": code})
    site = found.location
    if site is None:
        raise Conflict(
            "package_in_transit",
            _("A package in transit is opened where it arrives, not on the road."),
        )
    if not user_can(actor, Action.RECORD_LOGISTICS, site.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This site is outside your scope."))
    if Entry.objects.filter(entry_id=id).exists():
        return found  # this reseal was recorded already (its ledger entry bears its id)
    cleaned = _witnesses(witnesses)
    if not {"bawaslu", "polri"} & {w["agency"] for w in cleaned}:
        raise InvalidInput(
            "witnesses_required",
            _("A package is opened before a police or Bawaslu witness."),
            detail={"field": "witnesses"},
        )
    if not new_seals:
        raise InvalidInput("seals_required", _("Close the package with at least one new seal."))
    serials = _check_serials(new_seals, "new_seals")
    _no_repeats([line.item for line in counted], "counted")
    for n, line in enumerate(counted):
        _quantity(line.quantity, f"counted[{n}].quantity")
    items = _items(found.election, (line.item for line in counted))
    _refuse_reused(serials)
    try:
        _reseal(actor, id, found, site, serials, counted, items, cleaned, note, now)
    except IntegrityError:
        # Lost a race: the same form posted twice at once, or a serial applied meanwhile.
        if Entry.objects.filter(entry_id=id).exists():
            return found
        _refuse_reused(serials)
        raise
    return found


def _reseal(
    actor: User,
    id: uuid.UUID,
    found: Package,
    site: Site,
    serials: list[str],
    counted: Sequence[Line],
    items: dict[str, ItemType],
    cleaned: list[dict[str, str]],
    note: str,
    now: dt.datetime,
) -> None:
    with transaction.atomic():
        packed = {pl.item_id: pl for pl in PackageLine.objects.filter(package=found)}
        short = []
        for line in counted:
            item = items[line.item]
            before = packed[item.pk].quantity if item.pk in packed else 0
            if line.quantity < before:
                short.append((item, before - line.quantity))
            if item.pk in packed:
                packed[item.pk].quantity = line.quantity
        PackageLine.objects.bulk_update(packed.values(), ["quantity"])
        broken = sorted(
            Seal.objects.filter(
                package=found, state__in=(SealState.APPLIED, SealState.VERIFIED)
            ).values_list("serial", flat=True)
        )
        Seal.objects.filter(serial__in=broken).update(state=SealState.BROKEN, changed_at=now)
        Seal.objects.bulk_create(
            Seal(
                serial=s,
                package=found,
                state=SealState.APPLIED,
                applied_at=now,
                applied_by=actor,
                changed_at=now,
            )
            for s in serials
        )
        # A BAST still open now expects the new seals, and has seen them; a signed one keeps
        # what it carried and what its receiver verified.
        HandoverPackage.objects.filter(
            package=found, handover=found.handover_id, handover__state=HandoverState.DISPATCHED
        ).update(seals=serials, seals_seen=serials)
        ledger.append_many(
            [
                _fact(
                    "package.resealed",
                    found,
                    actor,
                    site,
                    {
                        "code": found.code,
                        "broken": broken,
                        "applied": serials,
                        "counted": [[items[x.item].pk, x.quantity] for x in counted],
                        "witnesses": cleaned,
                        "note": note[:500],
                    },
                    id=id,
                )
            ]
        )
        for item, missing in short:
            _raise_discrepancy(
                id=_derived_id(id, "short", item.code),
                kind=DiscrepancyKind.SHORTFALL,
                site=site,
                actor=actor,
                now=now,
                package=found,
                item=item,
                quantity=missing,
            )


def resolve_discrepancy(
    *, actor: User, discrepancy_id: Any, resolution: str, now: dt.datetime | None = None
) -> Discrepancy:
    """Close a discrepancy with what was done about it; the alarm clears with the last one."""
    now = now or timezone.now()
    found = (
        Discrepancy.objects.select_related("site").filter(pk=_as_uuid(discrepancy_id)).first()
        if _is_uuid(discrepancy_id)
        else None
    )
    if found is None:
        raise NotFound("discrepancy_unknown", _("No such discrepancy."))
    if not user_can(actor, Action.RECORD_LOGISTICS, found.site.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This site is outside your scope."))
    text = resolution.strip()
    if not text:
        raise InvalidInput(
            "resolution_required", _("Say how it was resolved."), detail={"field": "resolution"}
        )
    if found.state == DiscrepancyState.RESOLVED:
        return found
    with transaction.atomic():
        found = Discrepancy.objects.select_for_update().select_related("site").get(pk=found.pk)
        if found.state == DiscrepancyState.RESOLVED:
            return found
        found.state = DiscrepancyState.RESOLVED
        found.resolved_at = now
        found.resolved_by = actor
        found.resolution = text[:500]
        found.save(
            update_fields=["state", "resolved_at", "resolved_by", "resolution", "updated_at"]
        )
        ledger.append_many(
            [
                _fact(
                    "discrepancy.resolved",
                    found,
                    actor,
                    found.site,
                    {"resolution": found.resolution},
                )
            ]
        )
        if (
            found.alarm_id
            and not Discrepancy.objects.filter(
                alarm_id=found.alarm_id, state=DiscrepancyState.OPEN
            ).exists()
        ):
            alarm = Alarm.objects.filter(pk=found.alarm_id).first()
            if alarm is not None and alarm.active:
                alarms.clear_alarm(source=alarm.source, key=alarm.key, actor=actor, now=now)
    return found

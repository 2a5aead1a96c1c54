"""Packing a box or bundle for one TPS and applying its seals."""

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
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.ledger import services as ledger
from siaga.logistics.choices import (
    PackageKind,
    PackageState,
    SealState,
)
from siaga.logistics.models import (
    Package,
    PackageLine,
    Seal,
)
from siaga.logistics.services.common import (
    _CODE,
    _SERIAL,
    Line,
    _as_uuid,
    _election,
    _fact,
    _items,
    _no_repeats,
    _quantity,
    _save_stock,
    _site,
    _stock_rows,
    _take,
    package_code,
    seal_serial,
)
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site


def service_area(site: Site) -> str:
    """The region a site serves: a warehouse or office its owning unit's, a PPK its kecamatan,
    a PPS its desa, a TPS itself."""
    if site.kind in (SiteKind.WAREHOUSE, SiteKind.OFFICE):
        return site.owner_unit.region_id
    return site.region_id


def _check_serials(serials: Sequence[str], field_name: str) -> list[str]:
    cleaned = [seal_serial(s) for s in serials]
    bad = [s for s in cleaned if not _SERIAL.match(s)]
    if bad:
        raise InvalidInput(
            "seal_serial_invalid",
            _("A seal serial is 3 to 40 letters, digits or dashes."),
            detail={"field": field_name, "values": bad[:10]},
        )
    _no_repeats(cleaned, field_name)
    return cleaned


def _refuse_reused(serials: Sequence[str]) -> None:
    used = sorted(Seal.objects.filter(serial__in=serials).values_list("serial", flat=True))
    if used:
        raise Conflict(
            "seal_reused",
            _("A seal serial can be applied only once; these were used before."),
            detail={"seals": used},
        )


def pack_package(
    *,
    actor: User,
    id: uuid.UUID,
    site_id: Any,
    destination_id: Any,
    election: str,
    kind: str,
    lines: Sequence[Line],
    seals: Sequence[str],
    code: str | None = None,
    label: str = "",
    now: dt.datetime | None = None,
) -> Created[Package]:
    """A box or bundle packed at a warehouse for one TPS: its contents leave the site's loose
    stock, and each seal serial is applied once and for ever."""
    now = now or timezone.now()
    existing = Package.objects.filter(pk=id).first()
    if existing is not None:
        replay_or_conflict(existing, {"destination_id": _as_uuid(destination_id), "kind": kind})
        return Created(existing, created=False)
    site = _site(actor, site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    destination = Site.objects.filter(pk=destination_id, kind=SiteKind.TPS).first()
    if destination is None:
        raise NotFound(
            "tps_not_found", _("No such TPS."), detail={"destination": str(destination_id)}
        )
    if not user_can(actor, Action.RECORD_LOGISTICS, destination.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This TPS is outside your scope."))
    if kind not in PackageKind.values:
        raise InvalidInput(
            "package_kind_invalid",
            _("A package is a box or a bundle."),
            detail={"allowed": list(PackageKind.values)},
        )
    the_election = _election(election)
    if not lines:
        raise InvalidInput(
            "lines_required", _("List at least one item."), detail={"field": "lines"}
        )
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.quantity, f"lines[{n}].quantity", positive=True)
    if not seals:
        raise InvalidInput(
            "seals_required",
            _("A package is closed with at least one seal."),
            detail={"field": "seals"},
        )
    serials = _check_serials(seals, "seals")
    wanted_code = package_code(code) if code else ""
    if code is not None and not _CODE.match(wanted_code):
        raise InvalidInput(
            "package_code_invalid",
            _("A package code is 3 to 40 letters, digits, dots, dashes or slashes."),
            detail={"field": "code"},
        )
    items = _items(the_election, (line.item for line in lines))
    _refuse_reused(serials)
    try:
        with transaction.atomic():
            if not wanted_code:
                taken = Package.objects.filter(destination=destination).count()
                wanted_code = f"{destination.code}-{taken + 1:02d}"
            stock = _stock_rows(site, items.values())
            for line in lines:
                _take(stock, items[line.item], line.quantity, site)
            _save_stock(stock)
            package = Package.objects.create(
                id=id,
                code=wanted_code,
                election=the_election,
                kind=kind,
                label=label.strip()[:80],
                origin=site,
                destination=destination,
                location=site,
                state=PackageState.PACKED,
                packed_at=now,
                packed_by=actor,
            )
            PackageLine.objects.bulk_create(
                PackageLine(package=package, item=items[x.item], quantity=x.quantity) for x in lines
            )
            Seal.objects.bulk_create(
                Seal(
                    serial=s,
                    package=package,
                    state=SealState.APPLIED,
                    applied_at=now,
                    applied_by=actor,
                    changed_at=now,
                )
                for s in serials
            )
            ledger.append_many(
                [
                    _fact(
                        "package.packed",
                        package,
                        actor,
                        site,
                        {
                            "code": package.code,
                            "destination": str(destination.pk),
                            "lines": [[items[x.item].pk, x.quantity] for x in lines],
                            "seals": serials,
                        },
                    )
                ]
            )
    except IntegrityError:
        # Lost a race: someone applied one of these serials, or took the code, meanwhile.
        _refuse_reused(serials)
        raise Conflict(
            "package_code_taken",
            _("This package code is taken."),
            detail={"code": wanted_code},
        ) from None
    return Created(package, created=True)

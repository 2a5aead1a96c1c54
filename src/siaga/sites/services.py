"""Use cases of sites and zones. Client-sent ids make every create idempotent."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import AgencyUnit, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.ids import uuid7
from siaga.ledger import services as ledger
from siaga.regions.models import Region
from siaga.sites.choices import SiteKind, ZoneKind
from siaga.sites.models import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, Site, Zone


def check_coordinates(latitude: Decimal | None, longitude: Decimal | None) -> None:
    if (latitude is None) != (longitude is None):
        raise InvalidInput(
            "coordinates_incomplete", _("Give both latitude and longitude, or neither.")
        )
    if latitude is None or longitude is None:
        return
    if not (LAT_MIN <= latitude <= LAT_MAX and LON_MIN <= longitude <= LON_MAX):
        raise InvalidInput(
            "coordinates_outside_indonesia",
            _("These coordinates are outside Indonesia."),
            detail={"latitude": str(latitude), "longitude": str(longitude)},
        )


def create_site(
    *,
    actor: User,
    code: str,
    name: str,
    kind: str,
    region_code: str,
    owner_unit_id: int,
    id: uuid.UUID | None = None,
    address: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    voters: int | None = None,
    synthetic: bool = False,
) -> Created[Site]:
    if kind not in SiteKind.values:
        raise InvalidInput("site_kind_unknown", _("Unknown kind of site."), detail={"kind": kind})
    if voters is not None and kind != SiteKind.TPS:
        raise InvalidInput("voters_only_for_tps", _("Only a TPS has a voter count."))
    if voters is not None and not 1 <= voters <= 1000:
        raise InvalidInput(
            "voters_out_of_range", _("A TPS has between 1 and 1000 voters on its DPT.")
        )
    check_coordinates(latitude, longitude)
    region = Region.objects.filter(code=region_code, active=True).first()
    if region is None:
        raise InvalidInput(
            "region_unknown", _("No region has this code."), detail={"region": region_code}
        )
    if not user_can(actor, Action.MANAGE_MASTER_DATA, region.code):
        raise PermissionDenied(
            "region_out_of_scope",
            _("You may not manage sites in this region."),
            detail={"region": region.code},
        )
    unit = AgencyUnit.objects.filter(pk=owner_unit_id).first()
    if unit is None or not user_can(actor, Action.VIEW, unit.region_id):
        raise InvalidInput(
            "unit_unknown", _("No such agency unit."), detail={"owner_unit": owner_unit_id}
        )
    fields: dict[str, Any] = {
        "code": code.strip(),
        "name": name.strip(),
        "kind": kind,
        "region_id": region.code,
        "owner_unit_id": unit.pk,
        "address": address.strip(),
        "latitude": latitude,
        "longitude": longitude,
        "voters": voters,
        "synthetic": synthetic,
    }
    if not fields["code"] or not fields["name"]:
        raise InvalidInput("site_name_required", _("A site needs a code and a name."))
    site_id = id or uuid7()
    with transaction.atomic():
        existing = Site.objects.select_for_update().filter(pk=site_id).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        if Site.objects.filter(code=fields["code"]).exists():
            raise Conflict(
                "site_code_taken",
                _("Another site already has this code."),
                detail={"code": fields["code"]},
            )
        try:
            with transaction.atomic():
                site = Site.objects.create(id=site_id, **fields)
        except IntegrityError:
            # Two retries raced; the other one won. Same data means same outcome.
            existing = Site.objects.get(pk=site_id)
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        ledger.append(
            kind="site.created",
            subject=site,
            actor=actor,
            unit=unit,
            region=region.code,
            payload={
                "code": site.code,
                "name": site.name,
                "kind": site.kind,
                "owner_unit": unit.name,
                "latitude": None if latitude is None else str(latitude),
                "longitude": None if longitude is None else str(longitude),
                "voters": voters,
                "synthetic": synthetic,
            },
        )
    return Created(site, created=True)


def create_zone(
    *,
    actor: User,
    site_id: uuid.UUID,
    name: str,
    kind: str,
    restricted: bool = False,
    id: uuid.UUID | None = None,
) -> Created[Zone]:
    site = Site.objects.for_user(actor, Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    if not user_can(actor, Action.MANAGE_MASTER_DATA, site.region_id):
        raise PermissionDenied("forbidden", _("You may not manage this site's zones."))
    if kind not in ZoneKind.values:
        raise InvalidInput("zone_kind_unknown", _("Unknown kind of zone."), detail={"kind": kind})
    fields: dict[str, Any] = {
        "site_id": site.pk,
        "name": name.strip(),
        "kind": kind,
        "restricted": restricted,
    }
    if not fields["name"]:
        raise InvalidInput("zone_name_required", _("A zone needs a name."))
    zone_id = id or uuid7()
    with transaction.atomic():
        existing = Zone.objects.select_for_update().filter(pk=zone_id).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        if Zone.objects.filter(site=site, name=fields["name"]).exists():
            raise Conflict(
                "zone_name_taken",
                _("This site already has a zone with this name."),
                detail={"name": fields["name"]},
            )
        zone = Zone.objects.create(id=zone_id, **fields)
        ledger.append(
            kind="zone.created",
            subject=zone,
            actor=actor,
            region=site.region_id,
            payload={
                "site": str(site.pk),
                "name": zone.name,
                "kind": kind,
                "restricted": restricted,
            },
        )
    return Created(zone, created=True)

from __future__ import annotations

import uuid
from decimal import Decimal

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.core.errors import NotFound
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.regions.codes import REGION_CODE_PATTERN, parse_region_code, subtree_q
from siaga.sites import services
from siaga.sites.choices import SiteKind, ZoneKind
from siaga.sites.models import Site, Zone

router = Router(tags=["sites"])


class ZoneOut(Schema):
    id: uuid.UUID
    name: str
    kind: ZoneKind
    restricted: bool


class SiteOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    kind: SiteKind
    region: str
    owner_unit: int
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    voters: int | None
    synthetic: bool

    @staticmethod
    def resolve_region(obj: Site) -> str:
        return obj.region_id

    @staticmethod
    def resolve_owner_unit(obj: Site) -> int:
        return obj.owner_unit_id


class SiteDetailOut(SiteOut):
    zones: list[ZoneOut]

    @staticmethod
    def resolve_zones(obj: Site) -> list[Zone]:
        return list(obj.zones.order_by("name"))


class SitePage(Schema):
    count: int
    items: list[SiteOut]


class SiteFilter(PageQuery):
    kind: SiteKind | None = None
    region: str | None = Field(None, description="region code; the whole subtree matches")
    q: str | None = Field(None, max_length=100)
    limit: int = Field(100, ge=1, le=1000)


class SiteIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUIDv7; retries are safe")
    code: str = Field(..., min_length=1, max_length=40)
    name: str = Field(..., min_length=1, max_length=150)
    kind: SiteKind
    region: str = Field(..., pattern=REGION_CODE_PATTERN)
    owner_unit: int
    address: str = Field("", max_length=250)
    latitude: Decimal | None = Field(None, max_digits=8, decimal_places=6)
    longitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)
    voters: int | None = None
    synthetic: bool = False


class ZoneIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUIDv7; retries are safe")
    name: str = Field(..., min_length=1, max_length=100)
    kind: ZoneKind
    restricted: bool = False


def _site_or_404(request: HttpRequest, site_id: uuid.UUID) -> Site:
    site = Site.objects.for_user(actor_of(request), Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    return site


@router.get("", response={200: SitePage, 400: ErrorOut}, summary="Sites in your scope")
def list_sites(request: HttpRequest, filters: Query[SiteFilter]) -> dict[str, object]:
    sites = Site.objects.for_user(actor_of(request), Action.VIEW).filter(active=True)
    if filters.kind:
        sites = sites.filter(kind=filters.kind)
    if filters.region:
        sites = sites.filter(subtree_q("region__code", [parse_region_code(filters.region)]))
    if filters.q:
        sites = sites.filter(name__icontains=filters.q)
    window = sites.order_by("code")[filters.offset : filters.offset + filters.limit]
    return {"count": sites.count(), "items": list(window)}


@router.get(
    "/{site_id}", response={200: SiteDetailOut, 404: ErrorOut}, summary="A site with its zones"
)
def get_site(request: HttpRequest, site_id: uuid.UUID) -> Site:
    return _site_or_404(request, site_id)


@router.post(
    "",
    response={200: SiteDetailOut, 201: SiteDetailOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Create a site (idempotent with a client id)",
)
def create_site(request: HttpRequest, payload: SiteIn) -> Status[Site]:
    result = services.create_site(
        actor=actor_of(request),
        id=payload.id,
        code=payload.code,
        name=payload.name,
        kind=payload.kind,
        region_code=payload.region,
        owner_unit_id=payload.owner_unit,
        address=payload.address,
        latitude=payload.latitude,
        longitude=payload.longitude,
        voters=payload.voters,
        synthetic=payload.synthetic,
    )
    return Status(201 if result.created else 200, result.obj)


@router.post(
    "/{site_id}/zones",
    response={
        200: ZoneOut,
        201: ZoneOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Add a zone to a site (idempotent with a client id)",
)
def create_zone(request: HttpRequest, site_id: uuid.UUID, payload: ZoneIn) -> Status[Zone]:
    result = services.create_zone(
        actor=actor_of(request),
        site_id=site_id,
        id=payload.id,
        name=payload.name,
        kind=payload.kind,
        restricted=payload.restricted,
    )
    return Status(201 if result.created else 200, result.obj)


@router.get("/{site_id}/zones", response={200: list[ZoneOut], 404: ErrorOut})
def list_zones(request: HttpRequest, site_id: uuid.UUID) -> list[Zone]:
    site = _site_or_404(request, site_id)
    return list(Zone.objects.filter(site=site))

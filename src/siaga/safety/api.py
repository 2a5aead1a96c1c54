"""Safety equipment over HTTP: the items of your scope, one item, adding and changing one,
its services, and what is due. Every route is region-scoped: an item outside your scope is
404; a role that may not do a write is 403 ``safety_not_allowed`` (docs/safety.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.regions.codes import REGION_CODE_PATTERN, parse_region_code, subtree_q
from siaga.safety import selectors, services
from siaga.safety.choices import EquipmentKind, EquipmentState, ServiceWork, Variant
from siaga.safety.models import Equipment, ServiceRecord
from siaga.safety.rules import site_today

router = Router(tags=["safety"])


class DueOut(Schema):
    kind: str
    on: dt.date
    days: int = Field(..., description="days left on the site's calendar; negative: passed")


class EquipmentOut(Schema):
    id: uuid.UUID
    site: uuid.UUID
    site_name: str
    zone: uuid.UUID | None
    zone_name: str | None
    kind: EquipmentKind
    variant: str
    size_kg: Decimal | None
    serial: str
    location: str
    installed_on: dt.date
    expiry_on: dt.date | None
    next_service_on: dt.date | None
    responsible: int
    responsible_name: str
    state: EquipmentState
    label: str
    dues: list[DueOut]
    overdue: bool

    @staticmethod
    def resolve_site(obj: Equipment) -> uuid.UUID:
        return obj.site_id

    @staticmethod
    def resolve_site_name(obj: Equipment) -> str:
        return obj.site.name

    @staticmethod
    def resolve_zone(obj: Equipment) -> uuid.UUID | None:
        return obj.zone_id

    @staticmethod
    def resolve_zone_name(obj: Equipment) -> str | None:
        return obj.zone.name if obj.zone else None

    @staticmethod
    def resolve_responsible(obj: Equipment) -> int:
        return obj.responsible_id

    @staticmethod
    def resolve_responsible_name(obj: Equipment) -> str:
        return obj.responsible.display_name

    @staticmethod
    def resolve_label(obj: Equipment) -> str:
        """In the reader's language."""
        return obj.display

    @staticmethod
    def resolve_dues(obj: Equipment) -> list[dict[str, Any]]:
        today = site_today(obj.site)
        return [{"kind": d.kind, "on": d.on, "days": d.days} for d in selectors.dues(obj, today)]

    @staticmethod
    def resolve_overdue(obj: Equipment) -> bool:
        return bool(selectors.passed(obj, site_today(obj.site)))


class EquipmentPage(Schema):
    count: int
    items: list[EquipmentOut]


class EquipmentFilter(PageQuery):
    site: uuid.UUID | None = None
    zone: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)
    kind: EquipmentKind | None = None
    state: EquipmentState | None = None
    limit: int = Field(100, ge=1, le=500)


class EquipmentIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUIDv7; retries are safe")
    site: uuid.UUID
    zone: uuid.UUID | None = None
    kind: EquipmentKind
    variant: Variant | None = Field(None, description="an APAR's agent; the others' type")
    size_kg: Decimal | None = Field(None, max_digits=5, decimal_places=2, allow_inf_nan=False)
    serial: str = Field("", max_length=60)
    location: str = Field("", max_length=150)
    installed_on: dt.date
    expiry_on: dt.date | None = None
    next_service_on: dt.date | None = None
    responsible: int = Field(..., description="the user id of the responsible officer")
    state: EquipmentState = EquipmentState.IN_SERVICE


class EquipmentChange(Schema):
    """Only the fields sent change; ``null`` clears a zone or a date."""

    zone: uuid.UUID | None = None
    variant: Variant | None = None
    size_kg: Decimal | None = Field(None, max_digits=5, decimal_places=2, allow_inf_nan=False)
    serial: str | None = Field(None, max_length=60)
    location: str | None = Field(None, max_length=150)
    installed_on: dt.date | None = None
    expiry_on: dt.date | None = None
    next_service_on: dt.date | None = None
    responsible: int | None = None
    state: EquipmentState | None = None


class ServiceOut(Schema):
    id: uuid.UUID
    equipment: uuid.UUID
    performed_on: dt.date
    work: ServiceWork
    notes: str
    performed_by: str
    recorded_by: str
    next_service_on: dt.date | None
    expiry_on: dt.date | None
    created_at: dt.datetime

    @staticmethod
    def resolve_equipment(obj: ServiceRecord) -> uuid.UUID:
        return obj.equipment_id

    @staticmethod
    def resolve_recorded_by(obj: ServiceRecord) -> str:
        return obj.recorded_by.username


class ServiceIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUIDv7; retries are safe")
    performed_on: dt.date
    work: ServiceWork
    notes: str = Field("", max_length=1000)
    performed_by: str = Field("", max_length=150, description="who did it, when not you")
    next_service_on: dt.date | None = None
    expiry_on: dt.date | None = Field(None, description="a new expiry date (a refill)")


class DueFilter(Schema):
    site: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)
    within: int = Field(30, ge=0, le=366, description="days ahead counted as due soon")


class DueRowOut(Schema):
    equipment: EquipmentOut
    overdue: bool
    due_soon: bool


def _scoped(request: HttpRequest) -> QuerySet[Equipment]:
    return Equipment.objects.for_user(actor_of(request), Action.VIEW).select_related(
        "site", "zone", "responsible"
    )


@router.get("/equipment", response={200: EquipmentPage}, summary="Safety equipment in your scope")
def list_equipment(request: HttpRequest, filters: Query[EquipmentFilter]) -> dict[str, Any]:
    items = _scoped(request)
    if filters.site:
        items = items.filter(site_id=filters.site)
    if filters.zone:
        items = items.filter(zone_id=filters.zone)
    if filters.region:
        items = items.filter(subtree_q("site__region__code", [parse_region_code(filters.region)]))
    if filters.kind:
        items = items.filter(kind=filters.kind)
    if filters.state:
        items = items.filter(state=filters.state)
    window = items.order_by("site__name", "kind", "serial", "id")[
        filters.offset : filters.offset + filters.limit
    ]
    return {"count": items.count(), "items": list(window)}


@router.post(
    "/equipment",
    response={201: EquipmentOut, 200: EquipmentOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Add an item (idempotent with a client id)",
)
def create_equipment(request: HttpRequest, payload: EquipmentIn) -> Status[Equipment]:
    result = services.add_equipment(
        actor=actor_of(request),
        id=payload.id,
        site_id=payload.site,
        zone_id=payload.zone,
        kind=payload.kind,
        variant=payload.variant or "",
        size_kg=payload.size_kg,
        serial=payload.serial,
        location=payload.location,
        installed_on=payload.installed_on,
        expiry_on=payload.expiry_on,
        next_service_on=payload.next_service_on,
        responsible_id=payload.responsible,
        state=payload.state,
    )
    item = _scoped(request).get(pk=result.obj.pk)
    return Status(201 if result.created else 200, item)


@router.get(
    "/equipment/{equipment_id}", response={200: EquipmentOut, 404: ErrorOut}, summary="One item"
)
def get_equipment(request: HttpRequest, equipment_id: uuid.UUID) -> Equipment:
    return services.visible_equipment(actor_of(request), equipment_id)


@router.patch(
    "/equipment/{equipment_id}",
    response={200: EquipmentOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Change an item: its state, dates, zone, responsible officer…",
)
def update_equipment(
    request: HttpRequest, equipment_id: uuid.UUID, payload: EquipmentChange
) -> Equipment:
    changes = payload.model_dump(exclude_unset=True)
    if "variant" in changes:
        changes["variant"] = changes["variant"] or ""
    for text in ("serial", "location"):
        if text in changes and changes[text] is None:
            changes[text] = ""
    services.change_equipment(actor=actor_of(request), equipment_id=equipment_id, changes=changes)
    return services.visible_equipment(actor_of(request), equipment_id)


@router.get(
    "/equipment/{equipment_id}/services",
    response={200: list[ServiceOut], 404: ErrorOut},
    summary="An item's service history, the latest first",
)
def list_services(request: HttpRequest, equipment_id: uuid.UUID) -> list[ServiceRecord]:
    item = services.visible_equipment(actor_of(request), equipment_id)
    return list(
        item.services.select_related("recorded_by").order_by("-performed_on", "-created_at")
    )


@router.post(
    "/equipment/{equipment_id}/services",
    response={
        201: ServiceOut,
        200: ServiceOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Record a service: moves the next service date (idempotent with a client id)",
)
def record_service(
    request: HttpRequest, equipment_id: uuid.UUID, payload: ServiceIn
) -> Status[ServiceRecord]:
    result = services.record_service(
        actor=actor_of(request),
        equipment_id=equipment_id,
        id=payload.id,
        performed_on=payload.performed_on,
        work=payload.work,
        notes=payload.notes,
        performed_by=payload.performed_by,
        next_service_on=payload.next_service_on,
        expiry_on=payload.expiry_on,
    )
    return Status(201 if result.created else 200, result.obj)


@router.get(
    "/due",
    response={200: list[DueRowOut]},
    summary="Overdue items and items due within `within` days, the most urgent first",
)
def equipment_due(request: HttpRequest, filters: Query[DueFilter]) -> list[dict[str, Any]]:
    items = _scoped(request)
    if filters.site:
        items = items.filter(site_id=filters.site)
    if filters.region:
        items = items.filter(subtree_q("site__region__code", [parse_region_code(filters.region)]))
    rows = selectors.due_rows(items, within=filters.within)[:500]
    return [{"equipment": r.item, "overdue": r.overdue, "due_soon": r.due_soon} for r in rows]

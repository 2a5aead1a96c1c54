"""Logistics and custody over HTTP: the catalogue, vendor receipts, sorting, destruction, packing
with seals, BAST handovers, batch scans, discrepancies and stock. Thin: input shape here, rules
in ``services``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import NotFound
from siaga.core.schemas import ErrorOut
from siaga.logistics import services
from siaga.logistics.models import (
    Discrepancy,
    Election,
    Handover,
    ItemType,
    Package,
    Receipt,
    Stock,
)

router = Router(tags=["custody"])

WRITE = {201: Any, 200: Any, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# ---------------------------------------------------------------------------------------------
# Shapes


class NeedRuleOut(Schema):
    basis: str
    quantity: int
    reserve_percent: float
    district_level: int
    excluded_regions: list[str]


class ItemOut(Schema):
    code: str
    name: str
    category: str
    colour: str
    unit: str
    rules: list[NeedRuleOut]

    @staticmethod
    def resolve_rules(obj: ItemType) -> list[dict[str, Any]]:
        return [
            {
                "basis": r.basis,
                "quantity": r.quantity,
                "reserve_percent": float(r.reserve_percent),
                "district_level": r.district_level,
                "excluded_regions": list(r.excluded_regions),
            }
            for r in obj.rules.all()
        ]


class ElectionOut(Schema):
    code: str
    name: str
    voting_day: dt.date
    ppk_due_days: int
    pps_due_days: int
    tps_due_days: int
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj: Election) -> list[ItemType]:
        return list(obj.items.prefetch_related("rules"))


class LineIn(Schema):
    item: str = Field(..., max_length=30)
    quantity: int


class WitnessIn(Schema):
    name: str = Field(..., max_length=150)
    agency: Literal["polri", "bawaslu", "kpu", "other"]
    position: str = Field("", max_length=80)


class ReceiptLineIn(Schema):
    item: str = Field(..., max_length=30)
    expected: int
    counted: int
    damaged: int = 0


class ReceiptIn(Schema):
    id: uuid.UUID
    site: uuid.UUID
    election: str = Field(..., max_length=30)
    vendor: str = Field(..., max_length=150)
    delivery_note: str = Field(..., max_length=60)
    vehicle_plate: str = Field("", max_length=15)
    note: str = Field("", max_length=500)
    lines: list[ReceiptLineIn] = Field(..., max_length=200)


class ReceiptOut(Schema):
    id: uuid.UUID
    site: uuid.UUID = Field(..., alias="site_id")
    vendor: str
    delivery_note: str
    received_at: dt.datetime
    ledger_seq: int | None
    lines: list[dict[str, Any]]
    discrepancies: list[str]

    @staticmethod
    def resolve_lines(obj: Receipt) -> list[dict[str, Any]]:
        return [
            {
                "item": line.item.code,
                "expected": line.expected,
                "counted": line.counted,
                "damaged": line.damaged,
                "shortfall": line.shortfall,
            }
            for line in obj.lines.select_related("item")
        ]

    @staticmethod
    def resolve_discrepancies(obj: Receipt) -> list[str]:
        return [str(d.pk) for d in obj.discrepancies.all()]


class SortingLineIn(Schema):
    item: str = Field(..., max_length=30)
    good: int
    damaged: int
    reasons: dict[str, int] = Field(default_factory=dict)
    replacement_requested: int = 0


class SortingIn(Schema):
    id: uuid.UUID
    site: uuid.UUID
    election: str = Field(..., max_length=30)
    started_at: dt.datetime
    ended_at: dt.datetime
    workers: int = 0
    note: str = Field("", max_length=500)
    lines: list[SortingLineIn] = Field(..., max_length=50)


class DestructionLineIn(Schema):
    item: str = Field(..., max_length=30)
    damaged: int = 0
    excess: int = 0


class DestructionIn(Schema):
    id: uuid.UUID
    site: uuid.UUID
    election: str = Field(..., max_length=30)
    method: str = Field(..., max_length=100)
    witnesses: list[WitnessIn] = Field(..., max_length=20)
    lines: list[DestructionLineIn] = Field(..., max_length=50)


class RecordOut(Schema):
    id: uuid.UUID
    ledger_seq: int | None


class PackageIn(Schema):
    id: uuid.UUID
    site: uuid.UUID
    destination: uuid.UUID
    election: str = Field(..., max_length=30)
    kind: str = Field(..., max_length=10)
    code: str | None = Field(None, max_length=40)
    label: str = Field("", max_length=80)
    lines: list[LineIn] = Field(..., max_length=50)
    seals: list[str] = Field(..., max_length=50)


class SealOut(Schema):
    serial: str
    state: str
    changed_at: dt.datetime


class PackageOut(Schema):
    id: uuid.UUID
    code: str
    qr_payload: str
    kind: str
    label: str
    state: str
    destination: dict[str, str]
    location: dict[str, str] | None
    packed_at: dt.datetime
    received_at_tps: dt.datetime | None
    lines: list[dict[str, Any]]
    seals: list[SealOut]

    @staticmethod
    def resolve_destination(obj: Package) -> dict[str, str]:
        return {"id": str(obj.destination_id), "code": obj.destination.code}

    @staticmethod
    def resolve_location(obj: Package) -> dict[str, str] | None:
        if obj.location is None:
            return None
        return {"id": str(obj.location_id), "name": obj.location.name}

    @staticmethod
    def resolve_lines(obj: Package) -> list[dict[str, Any]]:
        return [
            {"item": line.item.code, "quantity": line.quantity}
            for line in obj.lines.select_related("item")
        ]

    @staticmethod
    def resolve_seals(obj: Package) -> list[Any]:
        return list(obj.seals.all())


class ResealIn(Schema):
    id: uuid.UUID
    new_seals: list[str] = Field(..., max_length=50)
    counted: list[LineIn] = Field(..., max_length=50)
    witnesses: list[WitnessIn] = Field(..., max_length=20)
    note: str = Field("", max_length=500)


class HandoverIn(Schema):
    id: uuid.UUID
    from_site: uuid.UUID
    to_site: uuid.UUID
    election: str = Field(..., max_length=30)
    leg: Literal["outbound", "return"] = "outbound"
    packages: list[str] = Field(default_factory=list, max_length=5000)
    lines: list[LineIn] = Field(default_factory=list, max_length=50)
    witnesses: list[WitnessIn] = Field(default_factory=list, max_length=20)
    place: str = Field("", max_length=150)
    vehicle_plate: str = Field("", max_length=15)
    expected_at: dt.datetime | None = None


class HandoverPackageOut(Schema):
    code: str
    destination: str
    seals: list[str]
    received: bool
    seals_seen: list[str]


class HandoverOut(Schema):
    id: uuid.UUID
    number: str
    leg: str
    state: str
    from_site: dict[str, str]
    to_site: dict[str, str]
    giver: str
    receiver: str | None
    witnesses: list[dict[str, str]]
    place: str
    vehicle_plate: str
    dispatched_at: dt.datetime
    expected_at: dt.datetime | None
    received_at: dt.datetime | None
    receive_note: str
    dispatch_seq: int | None
    receive_seq: int | None
    packages: list[HandoverPackageOut]
    lines: list[dict[str, Any]]
    discrepancies: list[dict[str, Any]]

    @staticmethod
    def resolve_from_site(obj: Handover) -> dict[str, str]:
        return {"id": str(obj.from_site_id), "name": obj.from_site.name}

    @staticmethod
    def resolve_to_site(obj: Handover) -> dict[str, str]:
        return {"id": str(obj.to_site_id), "name": obj.to_site.name}

    @staticmethod
    def resolve_giver(obj: Handover) -> str:
        return obj.giver.username

    @staticmethod
    def resolve_receiver(obj: Handover) -> str | None:
        return obj.receiver.username if obj.receiver else None

    @staticmethod
    def resolve_packages(obj: Handover) -> list[dict[str, Any]]:
        return [
            {
                "code": part.package.code,
                "destination": part.package.destination.code,
                "seals": part.seals,
                "received": part.received,
                "seals_seen": part.seals_seen,
            }
            for part in obj.packages.select_related("package__destination").order_by(
                "package__code"
            )
        ]

    @staticmethod
    def resolve_lines(obj: Handover) -> list[dict[str, Any]]:
        return [
            {
                "item": line.item.code,
                "quantity": line.quantity,
                "received": line.received,
                "damaged": line.damaged,
                "short": line.short,
            }
            for line in obj.lines.select_related("item")
        ]

    @staticmethod
    def resolve_discrepancies(obj: Handover) -> list[dict[str, Any]]:
        return [
            {"id": str(d.pk), "kind": d.kind, "state": d.state}
            for d in obj.discrepancies.order_by("raised_at")
        ]


class ReceivedLineIn(Schema):
    item: str = Field(..., max_length=30)
    quantity: int = Field(..., description="how many arrived")
    damaged: int = Field(0, description="of those, how many arrived damaged")


class ReceiveIn(Schema):
    lines: list[ReceivedLineIn] = Field(default_factory=list, max_length=50)
    note: str = Field("", max_length=500)


class ScanIn(Schema):
    id: uuid.UUID
    action: str = Field(..., max_length=10)
    code: str = Field(..., max_length=100)
    handover: uuid.UUID
    at: dt.datetime | None = None
    package: str = Field("", max_length=100)


class ScanBatchIn(Schema):
    scans: list[ScanIn] = Field(..., min_length=1, max_length=services.SCAN_BATCH_MAX)


class ScanResultOut(Schema):
    id: uuid.UUID
    status: int
    code: str = Field(..., description="empty when accepted; else the error code")
    message: str
    package: str | None


class ScanBatchOut(Schema):
    accepted: int
    refused: int
    results: list[ScanResultOut]


class DiscrepancyOut(Schema):
    id: uuid.UUID
    kind: str
    state: str
    site: dict[str, str]
    handover: str | None
    package: str | None
    item: str | None
    quantity: int | None
    detail: dict[str, Any]
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str

    @staticmethod
    def resolve_site(obj: Discrepancy) -> dict[str, str]:
        return {"id": str(obj.site_id), "name": obj.site.name}

    @staticmethod
    def resolve_handover(obj: Discrepancy) -> str | None:
        return obj.handover.number if obj.handover else None

    @staticmethod
    def resolve_package(obj: Discrepancy) -> str | None:
        return obj.package.code if obj.package else None

    @staticmethod
    def resolve_item(obj: Discrepancy) -> str | None:
        return obj.item.code if obj.item else None


class ResolveIn(Schema):
    resolution: str = Field(..., max_length=500)


class StockOut(Schema):
    site: uuid.UUID = Field(..., alias="site_id")
    item: str
    quantity: int
    damaged: int

    @staticmethod
    def resolve_item(obj: Stock) -> str:
        return obj.item.code


# ---------------------------------------------------------------------------------------------
# Reading


def _package(request: HttpRequest, code: str) -> Package:
    found = (
        Package.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("destination", "location")
        .filter(code=services.package_code(code))
        .first()
    )
    if found is None:
        raise NotFound("package_unknown", _("No such package."))
    return found


def _handover(user: User, handover_id: uuid.UUID) -> Handover:
    found = (
        Handover.objects.select_related("from_site", "to_site", "giver", "receiver")
        .filter(pk=handover_id)
        .first()
    )
    if found is None or not (
        user_can(user, Action.VIEW, found.to_site.region_id)
        or user_can(user, Action.VIEW, found.from_site.region_id)
    ):
        raise NotFound("handover_unknown", _("No such handover."))
    return found


@router.get(
    "/elections/{election_code}", response={200: ElectionOut, 404: ErrorOut}, summary="Catalogue"
)
def election(request: HttpRequest, election_code: str) -> Election:
    found = Election.objects.filter(code=election_code).first()
    if found is None:
        raise NotFound("election_unknown", _("No such election."))
    return found


@router.get(
    "/packages/{package_code}", response={200: PackageOut, 404: ErrorOut}, summary="A package"
)
def package(request: HttpRequest, package_code: str) -> Package:
    return _package(request, package_code)


@router.get("/handovers/{handover_id}", response={200: HandoverOut, 404: ErrorOut})
def handover(request: HttpRequest, handover_id: uuid.UUID) -> Handover:
    return _handover(actor_of(request), handover_id)


class DiscrepancyFilter(Schema):
    state: Literal["open", "resolved"] | None = None
    site: uuid.UUID | None = None
    limit: int = Field(100, ge=1, le=500)


@router.get("/discrepancies", response=list[DiscrepancyOut], summary="Discrepancies in scope")
def discrepancies(request: HttpRequest, filters: Query[DiscrepancyFilter]) -> list[Discrepancy]:
    rows = Discrepancy.objects.for_user(actor_of(request), Action.VIEW).select_related(
        "site", "handover", "package", "item"
    )
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.site:
        rows = rows.filter(site_id=filters.site)
    return list(rows[: filters.limit])


class StockFilter(Schema):
    site: uuid.UUID


@router.get("/stock", response=list[StockOut], summary="Loose stock at a site")
def stock(request: HttpRequest, filters: Query[StockFilter]) -> list[Stock]:
    return list(
        Stock.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("item")
        .filter(site_id=filters.site)
        .filter(Q(quantity__gt=0) | Q(damaged__gt=0))
    )


# ---------------------------------------------------------------------------------------------
# Writing


def _lines(lines: list[LineIn]) -> list[services.Line]:
    return [services.Line(line.item, line.quantity) for line in lines]


def _witnesses(witnesses: list[WitnessIn]) -> list[services.Witness]:
    return [services.Witness(w.name, w.agency, w.position) for w in witnesses]


def _status(created: bool) -> int:
    return 201 if created else 200


@router.post(
    "/receipts",
    response={**WRITE, 201: ReceiptOut, 200: ReceiptOut},
    summary="Count in a vendor's delivery (idempotent by id)",
)
def record_receipt(request: HttpRequest, payload: ReceiptIn) -> Status[Receipt]:
    result = services.record_receipt(
        actor=actor_of(request),
        id=payload.id,
        site_id=payload.site,
        election=payload.election,
        vendor=payload.vendor,
        delivery_note=payload.delivery_note,
        vehicle_plate=payload.vehicle_plate,
        note=payload.note,
        lines=[
            services.ReceiptLineIn(x.item, x.expected, x.counted, x.damaged) for x in payload.lines
        ],
    )
    return Status(_status(result.created), result.obj)


@router.post(
    "/sortings",
    response={**WRITE, 201: RecordOut, 200: RecordOut},
    summary="Record a sorting-and-folding session (idempotent by id)",
)
def record_sorting(request: HttpRequest, payload: SortingIn) -> Status[Any]:
    result = services.record_sorting(
        actor=actor_of(request),
        id=payload.id,
        site_id=payload.site,
        election=payload.election,
        started_at=payload.started_at,
        ended_at=payload.ended_at,
        workers=payload.workers,
        note=payload.note,
        lines=[
            services.SortingLineIn(x.item, x.good, x.damaged, x.reasons, x.replacement_requested)
            for x in payload.lines
        ],
    )
    return Status(_status(result.created), result.obj)


@router.post(
    "/destructions",
    response={**WRITE, 201: RecordOut, 200: RecordOut},
    summary="Record a witnessed destruction of damaged or excess ballots (idempotent by id)",
)
def record_destruction(request: HttpRequest, payload: DestructionIn) -> Status[Any]:
    result = services.record_destruction(
        actor=actor_of(request),
        id=payload.id,
        site_id=payload.site,
        election=payload.election,
        method=payload.method,
        witnesses=_witnesses(payload.witnesses),
        lines=[services.DestructionLineIn(x.item, x.damaged, x.excess) for x in payload.lines],
    )
    return Status(_status(result.created), result.obj)


@router.post(
    "/packages",
    response={**WRITE, 201: PackageOut, 200: PackageOut},
    summary="Pack and seal a package for a TPS (idempotent by id)",
)
def pack_package(request: HttpRequest, payload: PackageIn) -> Status[Package]:
    result = services.pack_package(
        actor=actor_of(request),
        id=payload.id,
        site_id=payload.site,
        destination_id=payload.destination,
        election=payload.election,
        kind=payload.kind,
        code=payload.code,
        label=payload.label,
        lines=_lines(payload.lines),
        seals=payload.seals,
    )
    return Status(_status(result.created), _package(request, result.obj.code))


@router.post(
    "/packages/{package_code}/reseal",
    response={200: PackageOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Open a package before witnesses, count it and seal it anew",
)
def reseal_package(request: HttpRequest, package_code: str, payload: ResealIn) -> Package:
    services.reseal_package(
        actor=actor_of(request),
        id=payload.id,
        package=package_code,
        new_seals=payload.new_seals,
        counted=_lines(payload.counted),
        witnesses=_witnesses(payload.witnesses),
        note=payload.note,
    )
    return _package(request, package_code)


@router.post(
    "/handovers",
    response={**WRITE, 201: HandoverOut, 200: HandoverOut},
    summary="Dispatch a BAST: packages and loose items leave (idempotent by id)",
)
def dispatch_handover(request: HttpRequest, payload: HandoverIn) -> Status[Handover]:
    result = services.dispatch_handover(
        actor=actor_of(request),
        id=payload.id,
        from_site_id=payload.from_site,
        to_site_id=payload.to_site,
        election=payload.election,
        leg=payload.leg,
        packages=payload.packages,
        lines=_lines(payload.lines),
        witnesses=_witnesses(payload.witnesses),
        place=payload.place,
        vehicle_plate=payload.vehicle_plate,
        expected_at=payload.expected_at,
    )
    return Status(_status(result.created), _handover(actor_of(request), result.obj.pk))


@router.post(
    "/handovers/{handover_id}/receive",
    response={200: HandoverOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Sign the BAST as receiver, after scanning its packages and seals",
)
def receive_handover(request: HttpRequest, handover_id: uuid.UUID, payload: ReceiveIn) -> Handover:
    services.receive_handover(
        actor=actor_of(request),
        handover_id=handover_id,
        lines=[services.ReceivedLine(x.item, x.quantity, x.damaged) for x in payload.lines],
        note=payload.note,
    )
    return _handover(actor_of(request), handover_id)


@router.post(
    "/scans",
    response={200: ScanBatchOut, 401: ErrorOut, 422: ErrorOut},
    summary="A batch of scans, each answered on its own (idempotent by scan id)",
)
def scans(request: HttpRequest, payload: ScanBatchIn) -> dict[str, Any]:
    outcomes = services.ingest_scans(
        actor=actor_of(request),
        scans=[
            services.ScanIn(s.id, s.action, s.code, s.handover, s.at, s.package)
            for s in payload.scans
        ],
    )
    return {
        "accepted": sum(1 for o in outcomes if o.ok),
        "refused": sum(1 for o in outcomes if not o.ok),
        "results": [
            {
                "id": o.id,
                "status": o.status,
                "code": o.error,
                "message": o.message,
                "package": o.package,
            }
            for o in outcomes
        ],
    }


@router.post(
    "/discrepancies/{discrepancy_id}/resolve",
    response={200: DiscrepancyOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Resolve a discrepancy, saying how",
)
def resolve_discrepancy(
    request: HttpRequest, discrepancy_id: uuid.UUID, payload: ResolveIn
) -> Discrepancy:
    found = services.resolve_discrepancy(
        actor=actor_of(request), discrepancy_id=discrepancy_id, resolution=payload.resolution
    )
    return Discrepancy.objects.select_related("site", "handover", "package", "item").get(
        pk=found.pk
    )

"""The gate over HTTP: visits and their approval, check-in and check-out, who is inside, the
log, the visitor look-up by NIK, standing passes, site rules and the watchlist. Thin: input
shape here, rules in ``services``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from siaga.access import selectors, services
from siaga.access.choices import VisitState
from siaga.access.models import GateEvent, Presence, SiteRules, StandingPass, Visit, Visitor
from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.privacy import services as privacy
from siaga.sites.models import Site

visits_router = Router(tags=["gate"])
gate_router = Router(tags=["gate"])
visitors_router = Router(tags=["gate"])
passes_router = Router(tags=["gate"])
sites_router = Router(tags=["gate"])


# ---------------------------------------------------------------------------------------------
# Shapes


class Named(Schema):
    id: str
    name: str


def _named(obj: Any) -> dict[str, str] | None:
    return {"id": str(obj.pk), "name": obj.name} if obj is not None else None


class VisitorOut(Schema):
    id: uuid.UUID
    nik: str = Field(..., description="masked: the first 4 and last 4 digits")
    name: str
    organisation: str
    phone: str
    officer: str
    watchlisted: bool
    has_photo: bool

    @staticmethod
    def resolve_nik(obj: Visitor) -> str:
        return obj.masked_nik

    @staticmethod
    def resolve_has_photo(obj: Visitor) -> bool:
        return bool(obj.photo_sha256)


class VisitOut(Schema):
    id: uuid.UUID
    reference: str
    state: str
    state_label: str
    visitor: VisitorOut
    site: Named
    zones: list[Named]
    purpose: str
    purpose_label: str
    purpose_text: str
    host: str
    walk_in: bool
    vehicle_plate: str
    planned_start: dt.datetime
    planned_end: dt.datetime
    registered_by: str
    decided_by: str | None
    decided_at: dt.datetime | None
    deny_reason: str
    after_hours_approved_by: str | None
    after_hours_approved_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None

    @staticmethod
    def resolve_state_label(obj: Visit) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_site(obj: Visit) -> dict[str, str] | None:
        return _named(obj.site)

    @staticmethod
    def resolve_zones(obj: Visit) -> list[dict[str, str] | None]:
        return [_named(z) for z in obj.zones.all()]

    @staticmethod
    def resolve_purpose_label(obj: Visit) -> str:
        return str(obj.get_purpose_display())

    @staticmethod
    def resolve_host(obj: Visit) -> str:
        return obj.host.username

    @staticmethod
    def resolve_registered_by(obj: Visit) -> str:
        return obj.registered_by.username

    @staticmethod
    def resolve_decided_by(obj: Visit) -> str | None:
        return obj.decided_by.username if obj.decided_by else None

    @staticmethod
    def resolve_after_hours_approved_by(obj: Visit) -> str | None:
        return obj.after_hours_approved_by.username if obj.after_hours_approved_by else None


class VisitPage(Schema):
    count: int
    items: list[VisitOut]


class ItemIn(Schema):
    kind: str = Field(..., max_length=20, description="bag, phone, laptop, camera, tool, …")
    count: int = Field(1, ge=1, le=999)
    label: str = Field("", max_length=100)


class Companion(Schema):
    id: str
    name: str
    officer: str


class GateEventOut(Schema):
    id: uuid.UUID
    kind: str
    at: dt.datetime
    site: Named
    zone: Named | None
    from_zone: Named | None
    visitor: VisitorOut
    visit: uuid.UUID | None
    standing_pass: uuid.UUID | None
    guard: str
    badge: str
    items: list[dict[str, Any]]
    vehicle_plate: str
    companions: list[Companion]
    note: str
    ledger_seq: int | None

    @staticmethod
    def resolve_site(obj: GateEvent) -> dict[str, str] | None:
        return _named(obj.site)

    @staticmethod
    def resolve_zone(obj: GateEvent) -> dict[str, str] | None:
        return _named(obj.zone)

    @staticmethod
    def resolve_from_zone(obj: GateEvent) -> dict[str, str] | None:
        return _named(obj.from_zone)

    @staticmethod
    def resolve_visit(obj: GateEvent) -> uuid.UUID | None:
        return obj.visit_id

    @staticmethod
    def resolve_standing_pass(obj: GateEvent) -> uuid.UUID | None:
        return obj.standing_pass_id

    @staticmethod
    def resolve_guard(obj: GateEvent) -> str:
        return obj.guard.username


class GateEventPage(Schema):
    count: int
    items: list[GateEventOut]


class PresenceOut(Schema):
    visitor: VisitorOut
    zone: Named | None
    entered_at: dt.datetime
    zone_since: dt.datetime
    expected_out: dt.datetime | None
    overstaying: bool
    visit: uuid.UUID | None
    standing_pass: uuid.UUID | None

    @staticmethod
    def resolve_zone(obj: Presence) -> dict[str, str] | None:
        return _named(obj.zone)

    @staticmethod
    def resolve_overstaying(obj: Presence) -> bool:
        return selectors.is_overstaying(obj, timezone.now())

    @staticmethod
    def resolve_visit(obj: Presence) -> uuid.UUID | None:
        return obj.visit_id

    @staticmethod
    def resolve_standing_pass(obj: Presence) -> uuid.UUID | None:
        return obj.standing_pass_id


class ZoneInside(Schema):
    zone: Named | None
    two_person_zone: bool
    count: int
    people: list[PresenceOut]


class InsideOut(Schema):
    site: Named
    at: dt.datetime
    count: int
    overstaying: int
    zones: list[ZoneInside]


class PersonIn(Schema):
    nik: str = Field(..., max_length=32)
    name: str = Field("", max_length=150)
    organisation: str = Field("", max_length=150)
    phone: str = Field("", max_length=30)

    def data(self) -> services.PersonData:
        return services.PersonData(
            nik=self.nik, name=self.name, organisation=self.organisation, phone=self.phone
        )


class VisitIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUID; a resend is harmless")
    visitor: PersonIn
    site: uuid.UUID
    zones: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    purpose: str = Field(..., max_length=15)
    purpose_text: str = Field("", max_length=300)
    host: int | None = Field(None, description="the host's user id; default: you")
    planned_start: dt.datetime | None = None
    planned_end: dt.datetime
    walk_in: bool = False
    vehicle_plate: str = Field("", max_length=15)


class DenyIn(Schema):
    reason: str = Field("", max_length=300)


class CheckInIn(Schema):
    id: uuid.UUID = Field(..., description="client-chosen UUID; a resend is the same event")
    visit: uuid.UUID | None = None
    badge: str | None = Field(None, max_length=60, description="the badge code or QR text")
    zone: uuid.UUID | None = Field(None, description="the zone entered; none: the grounds")
    companions: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    items: list[ItemIn] = Field(default_factory=list, max_length=50)
    vehicle_plate: str = Field("", max_length=15)
    note: str = Field("", max_length=500)


class CheckOutIn(Schema):
    id: uuid.UUID = Field(..., description="client-chosen UUID; a resend is the same event")
    visitor: uuid.UUID | None = None
    visit: uuid.UUID | None = None
    badge: str | None = Field(None, max_length=60)
    items: list[ItemIn] = Field(default_factory=list, max_length=50)
    note: str = Field("", max_length=500)


class PassIn(Schema):
    id: uuid.UUID | None = None
    holder: PersonIn
    site: uuid.UUID
    zones: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    kind: str = Field(..., max_length=10)
    officer: str = Field("", max_length=10, description="kpu, polri or bawaslu; for officers")
    user: int | None = Field(None, description="the holder's SIAGA account, if any")
    weekdays: str = Field("1234567", max_length=7)
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime


class PassOut(Schema):
    id: uuid.UUID
    holder: VisitorOut
    site: Named
    zones: list[Named]
    kind: str
    weekdays: str
    start_time: dt.time | None
    end_time: dt.time | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None
    issued_by: str
    badge: str = Field(..., description="the QR text; shown to those who may issue passes")

    @staticmethod
    def resolve_holder(obj: StandingPass) -> Visitor:
        return obj.visitor

    @staticmethod
    def resolve_site(obj: StandingPass) -> dict[str, str] | None:
        return _named(obj.site)

    @staticmethod
    def resolve_zones(obj: StandingPass) -> list[dict[str, str] | None]:
        return [_named(z) for z in obj.zones.all()]

    @staticmethod
    def resolve_issued_by(obj: StandingPass) -> str:
        return obj.issued_by.username

    @staticmethod
    def resolve_badge(obj: StandingPass, context: Any) -> str:
        user = actor_of(context["request"])
        if user_can(user, Action.APPROVE_ACCESS, obj.site.region_id):
            return obj.qr_payload
        return obj.badge_masked


class RulesIn(Schema):
    two_person_rule: bool = True
    after_hours_start: dt.time = dt.time(18, 0)
    after_hours_end: dt.time = dt.time(7, 0)
    max_per_zone: int | None = Field(None, ge=1, le=10_000)


class RulesOut(Schema):
    site: uuid.UUID
    two_person_rule: bool
    after_hours_start: dt.time
    after_hours_end: dt.time
    max_per_zone: int | None

    @staticmethod
    def resolve_site(obj: SiteRules) -> uuid.UUID:
        return obj.site_id


class LookupIn(Schema):
    nik: str = Field(..., max_length=32, description="the full NIK, from the KTP")


class LookupOut(Schema):
    at: dt.datetime
    username: str
    nik_hash: str = Field(..., description="a keyed hash of the NIK, never the NIK")
    answer: str
    channel: str
    region: str


class LookupPage(Schema):
    count: int
    items: list[LookupOut]


class WatchlistIn(Schema):
    nik: str = Field(..., max_length=32)
    name: str = Field("", max_length=150)
    listed: bool = True
    reason: str = Field("", max_length=300)


# ---------------------------------------------------------------------------------------------
# Reads shared by the routes


def _visits(request: HttpRequest) -> Any:
    return Visit.objects.for_user(actor_of(request), Action.VIEW).select_related(
        "visitor", "site", "host", "registered_by", "decided_by", "after_hours_approved_by"
    )


def _visit(request: HttpRequest, visit_id: uuid.UUID) -> Visit:
    visit = _visits(request).prefetch_related("zones").filter(pk=visit_id).first()
    if visit is None:
        raise NotFound("visit_not_found", _("No such visit."), detail={"visit": str(visit_id)})
    return visit


def _event(request: HttpRequest, event_id: uuid.UUID) -> GateEvent:
    event = (
        selectors.log_rows(GateEvent.objects.for_user(actor_of(request), Action.VIEW))
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        raise NotFound("gate_event_not_found", _("No such gate event."))
    return event


def _site(request: HttpRequest, site_id: uuid.UUID) -> Site:
    site = Site.objects.for_user(actor_of(request), Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    return site


def _items(items: list[ItemIn]) -> list[services.Item]:
    return [services.Item(kind=i.kind, count=i.count, label=i.label) for i in items]


# ---------------------------------------------------------------------------------------------
# Visits


@visits_router.post(
    "",
    response={
        200: VisitOut,
        201: VisitOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Register a visit: a host's pre-registration, or a walk-in at the gate",
)
def register_visit(request: HttpRequest, payload: VisitIn) -> Status[Visit]:
    result = services.register_visit(
        actor=actor_of(request),
        id=payload.id,
        person=payload.visitor.data(),
        site_id=payload.site,
        zone_ids=payload.zones,
        purpose=payload.purpose,
        purpose_text=payload.purpose_text,
        host_id=payload.host,
        planned_start=payload.planned_start,
        planned_end=payload.planned_end,
        walk_in=payload.walk_in,
        vehicle_plate=payload.vehicle_plate,
    )
    return Status(201 if result.created else 200, _visit(request, result.obj.pk))


class VisitFilter(PageQuery):
    site: uuid.UUID | None = None
    state: str | None = Field(None, description="a state, or 'pending' (requested or approved)")
    day: dt.date | None = Field(None, description="visits planned to overlap this day")
    waiting_for_me: bool = False


@visits_router.get("", response={200: VisitPage, 422: ErrorOut}, summary="Visits in your scope")
def list_visits(request: HttpRequest, filters: Query[VisitFilter]) -> dict[str, Any]:
    visits = _visits(request)
    if filters.waiting_for_me:
        visits = visits.filter(pk__in=services.approvals_waiting(actor_of(request)).values("pk"))
    if filters.site:
        visits = visits.filter(site_id=filters.site)
    if filters.state == "pending":
        visits = visits.filter(state__in=[VisitState.REQUESTED, VisitState.APPROVED])
    elif filters.state:
        visits = visits.filter(state=filters.state)
    if filters.day:
        start = selectors.day_start(filters.day)
        visits = visits.filter(
            planned_start__lt=start + dt.timedelta(days=1), planned_end__gt=start
        )
    window = visits.prefetch_related("zones").order_by("-planned_start")[
        filters.offset : filters.offset + filters.limit
    ]
    return {"count": visits.count(), "items": list(window)}


@visits_router.get("/{visit_id}", response={200: VisitOut, 404: ErrorOut})
def get_visit(request: HttpRequest, visit_id: uuid.UUID) -> Visit:
    return _visit(request, visit_id)


@visits_router.post(
    "/{visit_id}/approve",
    response={200: VisitOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Approve (host or commissioner; a commissioner's approval covers after hours)",
)
def approve_visit(request: HttpRequest, visit_id: uuid.UUID) -> Visit:
    services.approve_visit(actor=actor_of(request), visit_id=visit_id)
    return _visit(request, visit_id)


@visits_router.post(
    "/{visit_id}/deny",
    response={200: VisitOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Deny, saying why",
)
def deny_visit(request: HttpRequest, visit_id: uuid.UUID, payload: DenyIn) -> Visit:
    services.deny_visit(actor=actor_of(request), visit_id=visit_id, reason=payload.reason)
    return _visit(request, visit_id)


# ---------------------------------------------------------------------------------------------
# The gate


GATE_WRITE = {
    200: GateEventOut,
    201: GateEventOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}


@gate_router.post("/check-in", response=GATE_WRITE, summary="Check a person in (idempotent by id)")
def check_in(request: HttpRequest, payload: CheckInIn) -> Status[GateEvent]:
    result = services.check_in(
        actor=actor_of(request),
        id=payload.id,
        visit_id=payload.visit,
        badge=payload.badge,
        zone_id=payload.zone,
        companion_ids=payload.companions,
        items=_items(payload.items),
        vehicle_plate=payload.vehicle_plate,
        note=payload.note,
    )
    # A new event is answered as the service built it (every relation it shows is loaded);
    # a resend is read again, as the one who asks may see it.
    if result.created:
        return Status(201, result.obj)
    return Status(200, _event(request, result.obj.pk))


@gate_router.post(
    "/check-out", response=GATE_WRITE, summary="Check a person out (idempotent by id)"
)
def check_out(request: HttpRequest, payload: CheckOutIn) -> Status[GateEvent]:
    result = services.check_out(
        actor=actor_of(request),
        id=payload.id,
        visitor_id=payload.visitor,
        visit_id=payload.visit,
        badge=payload.badge,
        items=_items(payload.items),
        note=payload.note,
    )
    if result.created:
        return Status(201, result.obj)
    return Status(200, _event(request, result.obj.pk))


class LogFilter(PageQuery):
    site: uuid.UUID | None = None
    zone: uuid.UUID | None = None
    kind: str | None = Field(None, pattern="^(check_in|check_out)$")
    q: str | None = Field(None, max_length=100, description="a name, organisation, plate or NIK")
    since: dt.date | None = None
    until: dt.date | None = None


@gate_router.get(
    "/events", response={200: GateEventPage, 422: ErrorOut}, summary="The gate log, newest first"
)
def gate_log(request: HttpRequest, filters: Query[LogFilter]) -> dict[str, Any]:
    if selectors.looks_like_nik(filters.q or ""):
        raise InvalidInput(
            "nik_not_in_url",
            _("Search by NIK with POST /api/v1/gate/events/search: a NIK never goes in a URL."),
            detail={"field": "q"},
        )
    return _gate_log(request, filters)


@gate_router.post(
    "/events/search",
    response={200: GateEventPage, 422: ErrorOut},
    summary="The gate log, searched with the filters in the body (a NIK may be among them)",
)
def search_gate_log(request: HttpRequest, filters: LogFilter) -> dict[str, Any]:
    return _gate_log(request, filters)


def _gate_log(request: HttpRequest, filters: LogFilter) -> dict[str, Any]:
    selectors.check_range(filters.since, filters.until)
    log = selectors.LogFilters(
        site=filters.site,
        zone=filters.zone,
        kind=filters.kind or "",
        q=(filters.q or "").strip(),
        since=filters.since,
        until=filters.until,
    )
    events = log.apply(GateEvent.objects.for_user(actor_of(request), Action.VIEW))
    window = selectors.log_rows(events)[filters.offset : filters.offset + filters.limit]
    return {"count": events.count(), "items": list(window)}


@gate_router.get("/events/{event_id}", response={200: GateEventOut, 404: ErrorOut})
def get_gate_event(request: HttpRequest, event_id: uuid.UUID) -> GateEvent:
    return _event(request, event_id)


@sites_router.get(
    "/{site_id}/inside",
    response={200: InsideOut, 404: ErrorOut},
    summary="Who is inside the site now, per zone",
)
def inside(request: HttpRequest, site_id: uuid.UUID) -> dict[str, Any]:
    board = selectors.inside_board(_site(request, site_id))
    return {
        "site": _named(board.site),
        "at": board.at,
        "count": board.count,
        "overstaying": board.overstaying,
        "zones": [
            {
                "zone": _named(group.zone),
                "two_person_zone": group.guarded,
                "count": group.count,
                "people": group.people,
            }
            for group in board.groups
        ],
    }


@sites_router.get("/{site_id}/access-rules", response={200: RulesOut, 404: ErrorOut})
def get_rules(request: HttpRequest, site_id: uuid.UUID) -> SiteRules:
    return services.rules_of(_site(request, site_id))


@sites_router.put(
    "/{site_id}/access-rules",
    response={200: RulesOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Set the site's access rules (commissioner or commander)",
)
def put_rules(request: HttpRequest, site_id: uuid.UUID, payload: RulesIn) -> SiteRules:
    return services.update_rules(
        actor=actor_of(request),
        site_id=site_id,
        two_person_rule=payload.two_person_rule,
        after_hours_start=payload.after_hours_start,
        after_hours_end=payload.after_hours_end,
        max_per_zone=payload.max_per_zone,
    )


# ---------------------------------------------------------------------------------------------
# Visitors and the watchlist


@visitors_router.post(
    "/lookup",
    response={200: VisitorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Look a person up by NIK, in your own region's records (the NIK in the body)",
    description=(
        "Answers only what your region already holds; otherwise 404 `visitor_not_known_here` "
        "(register the person). Throttled per user (429 `lookup_throttled`); every look-up is "
        "recorded in the look-up log."
    ),
)
def lookup_visitor(request: HttpRequest, payload: LookupIn) -> Visitor:
    return services.lookup_visitor(actor=actor_of(request), nik=payload.nik)


@visitors_router.get(
    "/lookups",
    response={200: LookupPage, 403: ErrorOut, 422: ErrorOut},
    summary="The look-up log (data-protection officer and Bawaslu, in their scope)",
)
def list_lookups(request: HttpRequest, filters: Query[PageQuery]) -> dict[str, Any]:
    user = actor_of(request)
    if not privacy.may_read_lookups(user):
        raise PermissionDenied(
            "lookups_not_allowed",
            _("Only the data-protection officer and Bawaslu read the look-up log."),
        )
    logs = privacy.readable_lookups(user)
    window = logs.order_by("-at", "-pk")[filters.offset : filters.offset + filters.limit]
    return {"count": logs.count(), "items": list(window)}


@visitors_router.post(
    "/watchlist",
    response={200: VisitorOut, 403: ErrorOut, 422: ErrorOut},
    summary="Put a NIK on the watchlist, or take it off",
)
def watchlist(request: HttpRequest, payload: WatchlistIn) -> Visitor:
    return services.set_watchlist(
        actor=actor_of(request),
        nik=payload.nik,
        name=payload.name,
        listed=payload.listed,
        reason=payload.reason,
    )


@visitors_router.post(
    "/{visitor_id}/photo",
    response={200: VisitorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    summary="Set a visitor's photo (JPEG, PNG or WebP; at most 5 MB; metadata stripped)",
)
def set_photo(request: HttpRequest, visitor_id: uuid.UUID, photo: File[UploadedFile]) -> Visitor:
    return services.set_visitor_photo(
        actor=actor_of(request), visitor_id=visitor_id, photo=photo.open("rb"), size=photo.size
    )


@visitors_router.get(
    "/{visitor_id}/photo", response={200: None, 404: ErrorOut}, summary="A visitor's photo"
)
def get_photo(request: HttpRequest, visitor_id: uuid.UUID) -> HttpResponse:
    # A record of the caller's own region: another region's photo is not there to see.
    visitor = (
        Visitor.objects.for_user(actor_of(request), Action.VIEW)
        .filter(pk=visitor_id, photo_sha256__gt="")
        .first()
    )
    if visitor is None:
        raise NotFound("photo_not_found", _("No such photo."))
    response = HttpResponse(bytes(visitor.photo or b""), content_type=visitor.photo_content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------------------------------------
# Standing passes


def _passes(request: HttpRequest) -> Any:
    return (
        StandingPass.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("visitor", "site", "issued_by")
        .prefetch_related("zones")
    )


@passes_router.post(
    "",
    response={
        200: PassOut,
        201: PassOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Issue a standing pass or a day pass",
)
def issue_pass(request: HttpRequest, payload: PassIn) -> Status[StandingPass]:
    result = services.issue_pass(
        actor=actor_of(request),
        id=payload.id,
        person=payload.holder.data(),
        site_id=payload.site,
        zone_ids=payload.zones,
        kind=payload.kind,
        officer=payload.officer,
        user_id=payload.user,
        weekdays=payload.weekdays,
        start_time=payload.start_time,
        end_time=payload.end_time,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
    )
    return Status(201 if result.created else 200, _passes(request).get(pk=result.obj.pk))


@passes_router.get("", response={200: list[PassOut]}, summary="Passes in your scope")
def list_passes(
    request: HttpRequest, site: uuid.UUID | None = None, active: bool = True
) -> list[StandingPass]:
    passes = _passes(request)
    if site:
        passes = passes.filter(site_id=site)
    if active:
        passes = passes.filter(revoked_at__isnull=True)
    return list(passes[:1000])


@passes_router.post(
    "/{pass_id}/revoke", response={200: PassOut, 403: ErrorOut, 404: ErrorOut}, summary="Revoke"
)
def revoke_pass(request: HttpRequest, pass_id: uuid.UUID) -> StandingPass:
    services.revoke_pass(actor=actor_of(request), pass_id=pass_id)
    return _passes(request).get(pk=pass_id)

"""Incidents over HTTP: report (multipart, with a photo), list, read, and move through the
lifecycle. Thin: input shape here, rules in ``services``."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.core.errors import NotFound
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.incidents import selectors, services
from siaga.incidents.choices import OPEN_STATES
from siaga.incidents.models import Incident, IncidentEvent, IncidentPhoto
from siaga.regions.codes import REGION_CODE_PATTERN, parse_region_code, subtree_q

router = Router(tags=["incidents"])


class Named(Schema):
    id: str
    name: str


class PhotoOut(Schema):
    id: uuid.UUID
    url: str
    content_type: str
    width: int
    height: int
    size: int
    sha256: str

    @staticmethod
    def resolve_url(obj: IncidentPhoto) -> str:
        return f"/api/v1/incidents/{obj.incident_id}/photos/{obj.pk}"


class LinkOut(Schema):
    link_type: str
    link_id: str
    label: str


class EventOut(Schema):
    at: datetime
    kind: str
    actor: str | None
    text: str
    data: dict[str, Any]
    ledger_seq: int | None

    @staticmethod
    def resolve_text(obj: IncidentEvent) -> str:
        return obj.display_text  # the request's language

    @staticmethod
    def resolve_actor(obj: IncidentEvent) -> str | None:
        return obj.actor.username if obj.actor else None


def _person(user: Any) -> str | None:
    return user.username if user else None


class IncidentOut(Schema):
    id: uuid.UUID
    reference: str
    category: str
    category_label: str
    severity: int
    state: str
    source: str
    site: Named | None
    zone: Named | None
    region: str
    latitude: Decimal | None
    longitude: Decimal | None
    description: str
    reporter: str | None
    occurred_at: datetime
    reported_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    resolved_at: datetime | None
    resolution: str
    closed_at: datetime | None
    tier: int
    next_escalation_at: datetime | None

    @staticmethod
    def resolve_category_label(obj: Incident) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_site(obj: Incident) -> dict[str, str] | None:
        return {"id": str(obj.site_id), "name": obj.site.name} if obj.site else None

    @staticmethod
    def resolve_zone(obj: Incident) -> dict[str, str] | None:
        return {"id": str(obj.zone_id), "name": obj.zone.name} if obj.zone else None

    @staticmethod
    def resolve_region(obj: Incident) -> str:
        return obj.region_id

    @staticmethod
    def resolve_description(obj: Incident) -> str:
        """An alarm's words in the reader's language (``Accept-Language``); a person's as
        written."""
        return obj.display_description

    @staticmethod
    def resolve_reporter(obj: Incident) -> str | None:
        return _person(obj.reporter)

    @staticmethod
    def resolve_acknowledged_by(obj: Incident) -> str | None:
        return _person(obj.acknowledged_by)

    @staticmethod
    def resolve_assignee(obj: Incident) -> str | None:
        return _person(obj.assignee)


class IncidentDetailOut(IncidentOut):
    photos: list[PhotoOut]
    links: list[LinkOut]
    timeline: list[EventOut]

    @staticmethod
    def resolve_photos(obj: Incident) -> list[IncidentPhoto]:
        return list(obj.photos.defer("content"))

    @staticmethod
    def resolve_links(obj: Incident) -> list[Any]:
        return list(obj.links.all())

    @staticmethod
    def resolve_timeline(obj: Incident) -> list[IncidentEvent]:
        return list(obj.events.select_related("actor"))


class ReportedOut(IncidentDetailOut):
    photo_refused: ErrorOut | None = Field(
        None,
        description="the photo sent with the report, when it was refused (photo_too_large, "
        "photo_invalid): the report was kept without it",
    )


class IncidentPage(Schema):
    count: int
    items: list[IncidentOut]


class IncidentIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUID; a resend is harmless")
    category: str = Field(..., max_length=20, description="e.g. banjir, kebakaran")
    severity: int = Field(..., description="1 (critical) to 4 (low)")
    site: uuid.UUID | None = None
    zone: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)
    latitude: Decimal | None = Field(None, max_digits=8, decimal_places=6)
    longitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)
    description: str = Field("", max_length=4000)
    occurred_at: datetime | None = None


class IncidentFilter(PageQuery):
    state: str | None = Field(None, description="a state, or 'open'")
    category: str | None = None
    severity: int | None = Field(None, ge=1, le=4)
    site: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)


class ResolveIn(Schema):
    resolution: str = Field(..., max_length=4000)


class ReopenIn(Schema):
    reason: str = Field(..., max_length=4000)


class AssignIn(Schema):
    user: int


class CommentIn(Schema):
    id: uuid.UUID | None = None
    text: str = Field(..., max_length=4000)


class CategoryStat(Schema):
    category: str
    label: str
    total: int
    open: int
    minutes_to_acknowledge: float | None


class SiteStat(Schema):
    site: str | None
    name: str
    total: int
    open: int


class StatsOut(Schema):
    total: int
    open: int
    by_category: list[CategoryStat]
    by_site: list[SiteStat]


def _related(incidents: Any) -> Any:
    return incidents.select_related("site", "zone", "reporter", "acknowledged_by", "assignee")


def _one(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    incident = (
        _related(Incident.objects.for_user(actor_of(request), Action.VIEW))
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(
            "incident_not_found", _("No such incident."), detail={"incident": str(incident_id)}
        )
    return incident


WRITE = {200: IncidentDetailOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@router.post(
    "",
    response={
        200: ReportedOut,
        201: ReportedOut,
        403: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Report an incident (multipart form; photo optional; idempotent with a client id)",
)
def report_incident(
    request: HttpRequest,
    payload: Form[IncidentIn],
    photo: UploadedFile | None = File(None),  # noqa: B008
) -> Status[ReportedOut]:
    result = services.report_incident(
        actor=actor_of(request),
        id=payload.id,
        category=payload.category,
        severity=payload.severity,
        site_id=payload.site,
        zone_id=payload.zone,
        region_code=payload.region,
        latitude=payload.latitude,
        longitude=payload.longitude,
        description=payload.description,
        occurred_at=payload.occurred_at,
        photo=photo.file if photo is not None else None,
        photo_size=photo.size if photo is not None else None,
    )
    reported = ReportedOut.from_orm(_one(request, result.incident.pk))
    if result.photo_refused is not None:
        reported.photo_refused = ErrorOut(**result.photo_refused.as_dict())
    return Status(201 if result.created else 200, reported)


@router.get("", response={200: IncidentPage, 400: ErrorOut}, summary="Incidents in your scope")
def list_incidents(request: HttpRequest, filters: Query[IncidentFilter]) -> dict[str, Any]:
    incidents = Incident.objects.for_user(actor_of(request), Action.VIEW)
    if filters.state == "open":
        incidents = incidents.filter(state__in=OPEN_STATES)
    elif filters.state:
        incidents = incidents.filter(state=filters.state)
    if filters.category:
        incidents = incidents.filter(category=filters.category)
    if filters.severity:
        incidents = incidents.filter(severity=filters.severity)
    if filters.site:
        incidents = incidents.filter(site_id=filters.site)
    if filters.region:
        incidents = incidents.filter(subtree_q("region__code", [parse_region_code(filters.region)]))
    window = _related(incidents).order_by("-reported_at")[
        filters.offset : filters.offset + filters.limit
    ]
    return {"count": incidents.count(), "items": list(window)}


@router.get(
    "/acknowledgements",
    response={200: list[IncidentOut]},
    summary="Incidents you were told of that nobody has acknowledged yet",
)
def my_open_acknowledgements(request: HttpRequest) -> list[Incident]:
    return list(_related(services.open_acknowledgements(actor_of(request))))


@router.get(
    "/stats", response={200: StatsOut, 400: ErrorOut}, summary="Counts per category and site"
)
def incident_stats(
    request: HttpRequest, region: str | None = Query(None, pattern=REGION_CODE_PATTERN)
) -> dict[str, Any]:
    incidents = Incident.objects.for_user(actor_of(request), Action.VIEW)
    if region:
        incidents = incidents.filter(subtree_q("region__code", [parse_region_code(region)]))
    return selectors.incident_stats(incidents)


@router.get("/{incident_id}", response={200: IncidentDetailOut, 404: ErrorOut})
def get_incident(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    return _one(request, incident_id)


@router.post(
    "/{incident_id}/acknowledge", response=WRITE, summary="Acknowledge: seen, the escalation stops"
)
def acknowledge(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    services.acknowledge_incident(actor=actor_of(request), incident_id=incident_id)
    return _one(request, incident_id)


@router.post(
    "/{incident_id}/respond",
    response=WRITE,
    summary="Take charge: the response starts; you become the responder if none is assigned",
)
def respond(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    services.start_response(actor=actor_of(request), incident_id=incident_id)
    return _one(request, incident_id)


@router.post("/{incident_id}/resolve", response=WRITE, summary="Resolve, saying how")
def resolve(request: HttpRequest, incident_id: uuid.UUID, payload: ResolveIn) -> Incident:
    services.resolve_incident(
        actor=actor_of(request), incident_id=incident_id, resolution=payload.resolution
    )
    return _one(request, incident_id)


@router.post("/{incident_id}/close", response=WRITE, summary="Close a resolved incident")
def close(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    services.close_incident(actor=actor_of(request), incident_id=incident_id)
    return _one(request, incident_id)


@router.post("/{incident_id}/reopen", response=WRITE, summary="Reopen, saying why")
def reopen(request: HttpRequest, incident_id: uuid.UUID, payload: ReopenIn) -> Incident:
    services.reopen_incident(
        actor=actor_of(request), incident_id=incident_id, reason=payload.reason
    )
    return _one(request, incident_id)


@router.post("/{incident_id}/assign", response=WRITE, summary="Assign a responder")
def assign(request: HttpRequest, incident_id: uuid.UUID, payload: AssignIn) -> Incident:
    services.assign_responder(
        actor=actor_of(request), incident_id=incident_id, user_id=payload.user
    )
    return _one(request, incident_id)


@router.post(
    "/{incident_id}/comments",
    response={201: EventOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Add a comment to the timeline (idempotent with a client id)",
)
def comment(request: HttpRequest, incident_id: uuid.UUID, payload: CommentIn) -> Status[Any]:
    event = services.comment_on_incident(
        actor=actor_of(request), incident_id=incident_id, text=payload.text, id=payload.id
    )
    return Status(201, event)


@router.post(
    "/{incident_id}/photos",
    response={201: PhotoOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    summary="Add a photo",
)
def add_photo(
    request: HttpRequest, incident_id: uuid.UUID, photo: File[UploadedFile]
) -> Status[IncidentPhoto]:
    stored = services.add_photo(
        actor=actor_of(request),
        incident_id=incident_id,
        photo=photo.open("rb"),
        size=photo.size,
    )
    return Status(201, stored)


@router.get(
    "/{incident_id}/photos/{photo_id}",
    response={200: None, 404: ErrorOut},
    summary="A photo's bytes (metadata stripped)",
)
def get_photo(request: HttpRequest, incident_id: uuid.UUID, photo_id: uuid.UUID) -> HttpResponse:
    photo = (
        IncidentPhoto.objects.for_user(actor_of(request), Action.VIEW)
        .filter(pk=photo_id, incident_id=incident_id)
        .first()
    )
    if photo is None:
        raise NotFound("photo_not_found", _("No such photo."))
    response = HttpResponse(bytes(photo.content), content_type=photo.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response

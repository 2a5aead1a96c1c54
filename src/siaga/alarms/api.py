"""Alarms over HTTP: the console's data, acknowledgement and clearing by hand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.alarms import services
from siaga.alarms.models import Alarm
from siaga.core.errors import NotFound
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.regions.codes import REGION_CODE_PATTERN, parse_region_code, subtree_q

router = Router(tags=["alarms"])


class AlarmOut(Schema):
    id: uuid.UUID
    source: str
    key: str
    kind: str
    site: uuid.UUID
    site_name: str
    zone: uuid.UUID | None
    severity: str
    status: str
    message: str
    evidence: list[dict[str, Any]]
    active: bool
    repeats: int
    first_raised_at: datetime
    last_raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    incident: uuid.UUID | None

    @staticmethod
    def resolve_message(obj: Alarm) -> str:
        """In the reader's language (their account's, else the request's)."""
        return obj.display_message

    @staticmethod
    def resolve_site(obj: Alarm) -> uuid.UUID:
        return obj.site_id

    @staticmethod
    def resolve_site_name(obj: Alarm) -> str:
        return obj.site.name

    @staticmethod
    def resolve_zone(obj: Alarm) -> uuid.UUID | None:
        return obj.zone_id

    @staticmethod
    def resolve_acknowledged_by(obj: Alarm) -> str | None:
        return obj.acknowledged_by.username if obj.acknowledged_by else None

    @staticmethod
    def resolve_incident(obj: Alarm) -> uuid.UUID | None:
        return obj.incident_id


class AlarmPage(Schema):
    count: int
    items: list[AlarmOut]


class AlarmFilter(PageQuery):
    active: bool | None = None
    acknowledged: bool | None = None
    site: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)
    severity: str | None = None
    limit: int = Field(100, ge=1, le=500)


def _one(request: HttpRequest, alarm_id: uuid.UUID) -> Alarm:
    alarm = (
        Alarm.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("site", "acknowledged_by")
        .filter(pk=alarm_id)
        .first()
    )
    if alarm is None:
        raise NotFound("alarm_not_found", _("No such alarm."), detail={"alarm": str(alarm_id)})
    return alarm


@router.get("", response={200: AlarmPage, 400: ErrorOut}, summary="Alarms in your scope")
def list_alarms(request: HttpRequest, filters: Query[AlarmFilter]) -> dict[str, Any]:
    alarms = Alarm.objects.for_user(actor_of(request), Action.VIEW)
    if filters.active is not None:
        alarms = alarms.filter(active=filters.active)
    if filters.acknowledged is not None:
        alarms = alarms.filter(acknowledged_at__isnull=not filters.acknowledged)
    if filters.site:
        alarms = alarms.filter(site_id=filters.site)
    if filters.region:
        alarms = alarms.filter(subtree_q("site__region__code", [parse_region_code(filters.region)]))
    if filters.severity:
        alarms = alarms.filter(severity=filters.severity)
    window = alarms.select_related("site", "acknowledged_by").order_by("-last_raised_at")[
        filters.offset : filters.offset + filters.limit
    ]
    return {"count": alarms.count(), "items": list(window)}


@router.get("/{alarm_id}", response={200: AlarmOut, 404: ErrorOut})
def get_alarm(request: HttpRequest, alarm_id: uuid.UUID) -> Alarm:
    return _one(request, alarm_id)


@router.post(
    "/{alarm_id}/acknowledge",
    response={200: AlarmOut, 403: ErrorOut, 404: ErrorOut},
    summary="Acknowledge: reminders stop",
)
def acknowledge(request: HttpRequest, alarm_id: uuid.UUID) -> Alarm:
    services.acknowledge_alarm(actor=actor_of(request), alarm_id=alarm_id)
    return _one(request, alarm_id)


@router.post(
    "/{alarm_id}/clear",
    response={200: AlarmOut, 403: ErrorOut, 404: ErrorOut},
    summary="Clear by hand (a condition its source cannot clear)",
)
def clear(request: HttpRequest, alarm_id: uuid.UUID) -> Alarm:
    services.clear_alarm_by_hand(actor=actor_of(request), alarm_id=alarm_id)
    return _one(request, alarm_id)


class LinkIn(Schema):
    incident: uuid.UUID


@router.post(
    "/{alarm_id}/link",
    response={200: AlarmOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Tie the alarm to the incident it belongs to",
)
def link(request: HttpRequest, alarm_id: uuid.UUID, payload: LinkIn) -> Alarm:
    services.link_alarm(actor=actor_of(request), alarm_id=alarm_id, incident_id=payload.incident)
    return _one(request, alarm_id)

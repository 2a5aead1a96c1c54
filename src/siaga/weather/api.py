"""Weather warnings over HTTP: the warnings in the caller's scope, one warning, the feeds and
their freshness, and — for a superuser — ingesting a posted CAP 1.2 document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema

from siaga.accounts.auth import actor_of
from siaga.core.errors import NotFound, PermissionDenied
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.regions.codes import REGION_CODE_PATTERN, parse_region_code, subtree_q
from siaga.weather import selectors, services
from siaga.weather.models import Feed, WarningSite, WeatherWarning
from siaga.weather.steps import translated_steps

router = Router(tags=["weather"])
DOCUMENT_MAX = 5 * 1024 * 1024
SITES_LISTED = 100  # per warning in a list; GET /warnings/{id} lists them all


class CoveredOut(Schema):
    site: uuid.UUID
    code: str
    name: str
    matched_by: str
    in_force_since: datetime | None
    notified_severity: str

    @staticmethod
    def resolve_site(obj: WarningSite) -> uuid.UUID:
        return obj.site_id

    @staticmethod
    def resolve_code(obj: WarningSite) -> str:
        return obj.site.code

    @staticmethod
    def resolve_name(obj: WarningSite) -> str:
        return obj.site.name

    @staticmethod
    def resolve_in_force_since(obj: WarningSite) -> datetime | None:
        return obj.activated_at


class WarningOut(Schema):
    id: uuid.UUID
    identifier: str
    sender: str
    msg_type: str
    status: str
    state: str
    in_force: bool
    event: str
    headline: str
    hazards: list[str]
    severity: str
    urgency: str
    certainty: str
    sent: str = Field(description="as BMKG wrote it, with its offset (+07:00 WIB…)")
    effective: str
    expires: str
    expires_stated: bool
    languages: list[str]
    regions: list[str]
    sites_count: int = Field(description="the sites in your scope it covers")
    sites: list[CoveredOut] = Field(description="in a list, the first 100 of them")


class AreaOut(Schema):
    description: str
    polygons: list[list[list[float]]] = Field(description="rings of [lat, lon], as CAP")
    circles: list[list[float]]
    place_names: list[str]


class InfoOut(Schema):
    language: str
    event: str
    headline: str
    description: str
    instruction: str
    web: str


class WarningDetailOut(WarningOut):
    infos: list[InfoOut]
    areas: list[AreaOut]
    steps: list[str]
    references: list[str]
    superseded_by: str | None
    cancelled_by: str | None


class WarningPage(Schema):
    count: int
    feeds: dict[str, Any]
    items: list[WarningOut]


class WarningFilter(PageQuery):
    in_force: bool = True
    site: uuid.UUID | None = None
    region: str | None = Field(None, pattern=REGION_CODE_PATTERN)


class FeedOut(Schema):
    source: str
    title: str
    polled: bool
    freshness: str
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    published_at: datetime | None
    last_error_code: str
    last_error_at: datetime | None
    problems: dict[str, int]


class IngestIn(Schema):
    document: str = Field(max_length=DOCUMENT_MAX, description="a CAP 1.2 alert (XML)")
    source: str = Field("", max_length=300, description="where it came from, for the ledger")


class IngestOut(Schema):
    result: str = Field(description="created, duplicate, language_added or ignored")
    warning: uuid.UUID | None
    identifier: str | None
    sites: int
    ended: list[str]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _out(
    warning: WeatherWarning, covered: list[WarningSite], now: datetime, count: int
) -> dict[str, Any]:
    info = warning.info()
    return {
        "id": warning.pk,
        "identifier": warning.identifier,
        "sender": warning.sender,
        "msg_type": warning.msg_type,
        "status": warning.status,
        "state": warning.state,
        "in_force": warning.is_in_force(now),
        "event": info.event if info else "",
        "headline": info.headline if info else "",
        "hazards": warning.hazards,
        "severity": warning.severity,
        "urgency": warning.urgency,
        "certainty": warning.certainty,
        "sent": _iso(warning.sent_local),
        "effective": _iso(warning.effective_local),
        "expires": _iso(warning.expires_local),
        "expires_stated": warning.expires_stated,
        "languages": sorted(i.language for i in warning.infos.all()),
        "regions": sorted(warning.regions.values_list("region_id", flat=True)),
        "sites_count": count,
        "sites": covered,
    }


@router.get("/warnings", response={200: WarningPage}, summary="Weather warnings in your scope")
def list_warnings(request: HttpRequest, filters: Query[WarningFilter]) -> dict[str, Any]:
    user = actor_of(request)
    now = timezone.now()
    warnings = selectors.visible_warnings(user)
    if filters.in_force:
        warnings = warnings.in_force(now)
    if filters.site:
        warnings = warnings.filter(sites__site_id=filters.site)
    if filters.region:
        code = parse_region_code(filters.region)
        warnings = warnings.filter(
            pk__in=WeatherWarning.objects.filter(subtree_q("regions__region__code", [code])).values(
                "pk"
            )
        )
    warnings = warnings.distinct().order_by("-sent")
    window = list(warnings[filters.offset : filters.offset + filters.limit])
    coverage: dict[Any, list[WarningSite]] = {}
    counts: dict[Any, int] = {}
    for covered in selectors.visible_coverage(user).filter(warning__in=[w.pk for w in window]):
        counts[covered.warning_id] = counts.get(covered.warning_id, 0) + 1
        listed = coverage.setdefault(covered.warning_id, [])
        if len(listed) < SITES_LISTED:
            listed.append(covered)
    return {
        "count": warnings.count(),
        "feeds": selectors.feed_status(now).as_dict(),
        "items": [_out(w, coverage.get(w.pk, []), now, counts.get(w.pk, 0)) for w in window],
    }


@router.get("/warnings/{warning_id}", response={200: WarningDetailOut, 404: ErrorOut})
def get_warning(request: HttpRequest, warning_id: uuid.UUID) -> dict[str, Any]:
    user = actor_of(request)
    warning = (
        selectors.visible_warnings(user)
        .select_related("superseded_by", "cancelled_by")
        .filter(pk=warning_id)
        .first()
    )
    if warning is None:
        raise NotFound(
            "weather_warning_not_found",
            _("No such weather warning."),
            detail={"warning": str(warning_id)},
        )
    covered = list(selectors.visible_coverage(user).filter(warning=warning))
    return _out(warning, covered, timezone.now(), len(covered)) | {
        "infos": list(warning.infos.all()),
        "areas": list(warning.areas.all()),
        "steps": translated_steps(warning.hazards),
        "references": list(warning.references.values_list("identifier", flat=True)),
        "superseded_by": warning.superseded_by.identifier if warning.superseded_by else None,
        "cancelled_by": warning.cancelled_by.identifier if warning.cancelled_by else None,
    }


@router.get("/feeds", response={200: list[FeedOut]}, summary="BMKG feeds and their freshness")
def list_feeds(request: HttpRequest) -> list[dict[str, Any]]:
    """The polled feeds (national configuration, the same for everyone); a superuser also sees
    the sources ingested by hand (file paths on the server among them)."""
    user = actor_of(request)
    now = timezone.now()
    feeds = Feed.objects.all() if user.is_superuser else Feed.objects.filter(polled=True)
    return [
        {
            "source": feed.source,
            "title": feed.title,
            "polled": feed.polled,
            "freshness": feed.freshness(now),
            "last_fetched_at": feed.last_fetched_at,
            "last_success_at": feed.last_success_at,
            "published_at": feed.published_at,
            "last_error_code": feed.last_error_code,
            "last_error_at": feed.last_error_at,
            "problems": feed.problem_counts,
        }
        for feed in feeds
    ]


@router.post(
    "/ingest",
    response={200: IngestOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Ingest a CAP 1.2 document (superuser)",
)
def ingest_document(request: HttpRequest, payload: IngestIn) -> dict[str, Any]:
    """Warnings are national: a CAP document may cover any region, so only a superuser may post
    one. The CAP identifier is the idempotency key: posting it again changes nothing."""
    user = actor_of(request)
    if not user.is_superuser:
        raise PermissionDenied(
            "weather_ingest_forbidden", _("Only a national administrator may ingest warnings.")
        )
    outcome = services.ingest_document(
        payload.document.encode(), source=payload.source or "api", actor=user
    )
    return {
        "result": outcome.result,
        "warning": outcome.warning.pk if outcome.warning else None,
        "identifier": outcome.warning.identifier if outcome.warning else None,
        "sites": outcome.sites,
        "ended": outcome.ended or [],
    }

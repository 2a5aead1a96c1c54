"""Hazards over HTTP: a site's sensors, a sensor with its state and rules, its readings and
hourly aggregates, the rejected-message counters, device tokens — and the batch ingest
``POST /api/v1/readings``, authenticated by a site's device token. Thin: shapes here, rules in
``services``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.security import HttpBearer

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied, SiagaError
from siaga.core.schemas import ErrorOut
from siaga.hazards import selectors, services
from siaga.hazards.choices import Channel, PayloadFormat, RejectCode, SensorKind
from siaga.hazards.models import DeviceToken, HourlyAggregate, Reading, RejectCounter, Sensor
from siaga.hazards.services.ingestion import Message, count_rejection, summarize
from siaga.sites.models import Site

router = Router(tags=["hazards"])
readings_router = Router(tags=["hazards"])


# ---------------------------------------------------------------------------------------------
# Shapes


class RuleOut(Schema):
    id: uuid.UUID
    kind: str
    alarm_kind: str
    severity: str
    enabled: bool
    direction: str
    threshold: float | None
    clear_at: float | None
    duration_seconds: int
    rise: float | None
    window_seconds: int
    trigger_value: bool
    debounce_seconds: float
    only_when_zone_locked: bool
    intervals: int
    alarm_active: bool

    @staticmethod
    def resolve_alarm_active(obj: Any) -> bool:
        state = getattr(obj, "state", None)
        return bool(state and state.active)


class SensorOut(Schema):
    id: uuid.UUID
    site: uuid.UUID
    zone: uuid.UUID | None
    zone_name: str | None
    device_id: str
    name: str
    kind: str
    unit: str
    calibration_offset: float
    report_interval_seconds: int
    battery_powered: bool
    payload_format: str
    mapping: dict[str, Any]
    active: bool
    status: str
    status_since: datetime
    last_value: float | None
    last_reading_at: datetime | None

    @staticmethod
    def resolve_site(obj: Sensor) -> uuid.UUID:
        return obj.site_id

    @staticmethod
    def resolve_zone(obj: Sensor) -> uuid.UUID | None:
        return obj.zone_id

    @staticmethod
    def resolve_zone_name(obj: Sensor) -> str | None:
        return obj.zone.name if obj.zone else None


class SensorDetailOut(SensorOut):
    rules: list[RuleOut]

    @staticmethod
    def resolve_rules(obj: Sensor) -> list[Any]:
        return list(obj.rules.select_related("state").order_by("kind", "alarm_kind"))


class SensorIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen id; retries are safe")
    device_id: str = Field(..., min_length=1, max_length=64)
    kind: SensorKind
    zone: uuid.UUID | None = None
    name: str = Field("", max_length=100)
    unit: str | None = Field(None, max_length=16)
    calibration_offset: float = Field(0.0, ge=-1000, le=1000)
    report_interval_seconds: int = Field(60, ge=1, le=7 * 86400)
    battery_powered: bool = False
    payload_format: PayloadFormat = PayloadFormat.SIAGA
    mapping: dict[str, Any] = Field(default_factory=dict)


class ReadingOut(Schema):
    at: datetime
    value: float | None
    key: str
    received_at: datetime
    channel: str


class AggregateOut(Schema):
    hour: datetime
    count: int
    minimum: float | None
    maximum: float | None
    average: float | None


class ChartOut(Schema):
    sensor: uuid.UUID
    unit: str
    resolution: str = Field(..., description="raw (each reading) or hour (hourly averages)")
    since: datetime
    until: datetime
    points: list[tuple[datetime, float | None]]


class PeriodQuery(Schema):
    since: datetime | None = Field(None, description="default: 24 hours before until")
    until: datetime | None = Field(None, description="default: now")
    limit: int = Field(2000, ge=1, le=10000)


class ChartQuery(Schema):
    hours: int = Field(24, ge=1, le=24 * 366)


class CounterOut(Schema):
    site_code: str
    device_id: str
    channel: str
    code: str
    count: int
    first_at: datetime
    last_at: datetime
    last_detail: str


class DeviceTokenOut(Schema):
    id: uuid.UUID
    site: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @staticmethod
    def resolve_site(obj: DeviceToken) -> uuid.UUID:
        return obj.site_id


class DeviceTokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)


class DeviceTokenIssuedOut(DeviceTokenOut):
    token: str = Field(..., description="shown this once; only its hash is kept")


class ReadingResultOut(Schema):
    index: int
    status: str = Field(..., description="accepted, duplicate or rejected")
    code: str = Field(..., description="empty when accepted; else the stable code")
    message: str
    detail: str


class ReadingBatchOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ReadingResultOut]


# ---------------------------------------------------------------------------------------------
# Reads


def _site(request: HttpRequest, site_id: uuid.UUID) -> Site:
    site = Site.objects.for_user(actor_of(request), Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    return site


def _sensor(request: HttpRequest, sensor_id: uuid.UUID) -> Sensor:
    sensor = (
        Sensor.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("site", "zone")
        .filter(pk=sensor_id)
        .first()
    )
    if sensor is None:
        raise NotFound("sensor_not_found", _("No such sensor."), detail={"sensor": str(sensor_id)})
    return sensor


def _period(filters: PeriodQuery) -> tuple[datetime, datetime]:
    until = filters.until or timezone.now()
    since = filters.since or until - timedelta(hours=24)
    if since >= until:
        raise InvalidInput("period_invalid", _("The period must start before it ends."))
    return since, until


@router.get(
    "/sites/{site_id}/sensors",
    response={200: list[SensorOut], 404: ErrorOut},
    summary="The sensors of a site, with what each last said",
)
def list_sensors(request: HttpRequest, site_id: uuid.UUID) -> QuerySet[Sensor]:
    site = _site(request, site_id)
    return (
        Sensor.objects.filter(site=site).select_related("zone").order_by("zone__name", "device_id")
    )


@router.post(
    "/sites/{site_id}/sensors",
    response={
        201: SensorDetailOut,
        200: SensorDetailOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Add a sensor (with its kind's default rules)",
)
def create_sensor(request: HttpRequest, site_id: uuid.UUID, payload: SensorIn) -> Status[Sensor]:
    result = services.create_sensor(
        actor=actor_of(request),
        site_id=site_id,
        id=payload.id,
        device_id=payload.device_id,
        kind=payload.kind,
        zone_id=payload.zone,
        name=payload.name,
        unit=payload.unit,
        calibration_offset=payload.calibration_offset,
        report_interval_seconds=payload.report_interval_seconds,
        battery_powered=payload.battery_powered,
        payload_format=payload.payload_format,
        mapping=payload.mapping,
    )
    return Status(201 if result.created else 200, _sensor(request, result.obj.pk))


@router.get(
    "/sensors/{sensor_id}",
    response={200: SensorDetailOut, 404: ErrorOut},
    summary="A sensor: its state and its rules",
)
def get_sensor(request: HttpRequest, sensor_id: uuid.UUID) -> Sensor:
    return _sensor(request, sensor_id)


@router.get(
    "/sensors/{sensor_id}/readings",
    response={200: list[ReadingOut], 404: ErrorOut, 422: ErrorOut},
    summary="Raw readings in a period (kept SIAGA_HAZARDS_RAW_DAYS), oldest first",
)
def list_readings(
    request: HttpRequest, sensor_id: uuid.UUID, filters: Query[PeriodQuery]
) -> QuerySet[Reading]:
    sensor = _sensor(request, sensor_id)
    since, until = _period(filters)
    return Reading.objects.filter(sensor=sensor, at__gte=since, at__lt=until).order_by("at")[
        : filters.limit
    ]


@router.get(
    "/sensors/{sensor_id}/aggregates",
    response={200: list[AggregateOut], 404: ErrorOut, 422: ErrorOut},
    summary="Hourly minimum, maximum, average and count in a period",
)
def list_aggregates(
    request: HttpRequest, sensor_id: uuid.UUID, filters: Query[PeriodQuery]
) -> QuerySet[HourlyAggregate]:
    sensor = _sensor(request, sensor_id)
    since, until = _period(filters)
    return HourlyAggregate.objects.filter(sensor=sensor, hour__gte=since, hour__lt=until).order_by(
        "hour"
    )[: filters.limit]


@router.get(
    "/sensors/{sensor_id}/chart",
    response={200: ChartOut, 404: ErrorOut},
    summary="The points of the sensor's chart: raw readings, or hourly averages for long spans",
)
def chart(request: HttpRequest, sensor_id: uuid.UUID, filters: Query[ChartQuery]) -> dict[str, Any]:
    sensor = _sensor(request, sensor_id)
    series = selectors.series(sensor, hours=filters.hours)
    return {
        "sensor": sensor.pk,
        "unit": sensor.unit,
        "resolution": series.resolution,
        "since": series.since,
        "until": series.until,
        "points": series.points,
    }


@router.get(
    "/sites/{site_id}/rejections",
    response={200: list[CounterOut], 404: ErrorOut},
    summary="Rejected messages per code, sensor and channel (duplicates included)",
)
def list_rejections(request: HttpRequest, site_id: uuid.UUID) -> QuerySet[RejectCounter]:
    site = _site(request, site_id)
    return RejectCounter.objects.filter(site=site).order_by("device_id", "code", "channel")


@router.get(
    "/sites/{site_id}/device-tokens",
    response={200: list[DeviceTokenOut], 403: ErrorOut, 404: ErrorOut},
    summary="The site's device tokens (never their values)",
)
def list_device_tokens(request: HttpRequest, site_id: uuid.UUID) -> QuerySet[DeviceToken]:
    site = _site(request, site_id)
    _may_manage(request, site)
    return DeviceToken.objects.filter(site=site).order_by("-created_at")


def _may_manage(request: HttpRequest, site: Site) -> None:
    from siaga.accounts.scoping import user_can

    if not user_can(actor_of(request), Action.MANAGE_MASTER_DATA, site.region_id):
        raise PermissionDenied(
            "site_out_of_scope",
            _("You may not manage this site's sensors."),
            detail={"site": str(site.pk)},
        )


@router.post(
    "/sites/{site_id}/device-tokens",
    response={201: DeviceTokenIssuedOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Issue a device token for the site (its value is shown this once)",
)
def issue_device_token(
    request: HttpRequest, site_id: uuid.UUID, payload: DeviceTokenIn
) -> Status[DeviceToken]:
    token, raw = services.issue_device_token(
        actor=actor_of(request), site_id=site_id, name=payload.name
    )
    token.token = raw  # type: ignore[attr-defined]  # answered once, never stored
    return Status(201, token)


@router.post(
    "/device-tokens/{device_token_id}/revoke",
    response={200: DeviceTokenOut, 403: ErrorOut, 404: ErrorOut},
    summary="Revoke a device token at once",
)
def revoke_device_token(request: HttpRequest, device_token_id: uuid.UUID) -> DeviceToken:
    return services.revoke_device_token(actor=actor_of(request), token_id=device_token_id)


# ---------------------------------------------------------------------------------------------
# The batch ingest


class DeviceTokenAuth(HttpBearer):
    """``Authorization: Bearer sgd_…``: a site's device token. It reaches that site's sensors
    and nothing else; a person's token or session is not a device's."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return services.device_token_for(token)


_BATCH_EXAMPLE = {
    "site": "GUDANG-31.71",
    "readings": [
        {
            "sensor": "HUM-B-01",
            "id": "0190b3c4-…",
            "at": "2029-01-10T23:40:00+07:00",
            "value": 86.5,
        },
        {"sensor": "WL-B-01", "id": "0190b3c5-…", "value": True},
    ],
}


@readings_router.post(
    "",
    auth=DeviceTokenAuth(),
    response={
        200: ReadingBatchOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    summary="Send a batch of readings (device token)",
    description=(
        "The body is a JSON object {site?, readings: [...]} (or the list alone). Each reading "
        "names its sensor by device id and is read as that sensor's payload format says "
        "(SIAGA's: id, at, value). Each gets a result: accepted, duplicate (its id was stored "
        "before) or rejected with a stable code; every rejection and duplicate is counted."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": _BATCH_EXAMPLE}
            },
        }
    },
)
def post_readings(request: HttpRequest) -> dict[str, Any]:
    token: DeviceToken = request.auth  # type: ignore[attr-defined]
    site = token.site
    body = _batch_body(request, site)
    items = body.get("readings") if isinstance(body, dict) else body
    claimed = body.get("site") if isinstance(body, dict) else None
    if claimed not in (None, "", site.code):
        _refuse(
            site,
            RejectCode.WRONG_SITE,
            str(claimed)[:200],
            PermissionDenied,
            _("This device token is for another site."),
        )
    if not isinstance(items, list):
        _refuse(
            site,
            RejectCode.MALFORMED,
            "no list of readings",
            InvalidInput,
            _('Send {"readings": [...]} or a list of readings.'),
            status=400,
        )
    if len(items) > settings.HAZARDS_HTTP_BATCH_MAX:
        _refuse(
            site,
            RejectCode.BATCH_TOO_LARGE,
            f"{len(items)} readings",
            InvalidInput,
            _("Too many readings in one batch."),
            status=413,
        )
    messages = [
        Message(str(item.get("sensor") or "")[:64] if isinstance(item, dict) else "", item)
        for item in items
    ]
    results = services.ingest(messages, channel=Channel.HTTP, site=site)
    return {
        **{("duplicates" if k == "duplicate" else k): v for k, v in summarize(results).items()},
        "results": [
            {
                "index": index,
                "status": result.status,
                "code": result.code,
                "message": str(RejectCode(result.code).label) if result.code else "",
                "detail": result.detail,
            }
            for index, result in enumerate(results)
        ],
    }


def _batch_body(request: HttpRequest, site: Site) -> Any:
    try:
        return json.loads(request.body, parse_constant=_no_constant)
    except _NotFinite:
        _refuse(
            site,
            RejectCode.NOT_FINITE,
            "NaN or Infinity in the body",
            InvalidInput,
            _("NaN and Infinity are not readings."),
            status=400,
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        _refuse(
            site,
            RejectCode.MALFORMED,
            f"not JSON: {exc}"[:200],
            InvalidInput,
            _("The body is not JSON."),
            status=400,
        )


class _NotFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)


def _refuse(
    site: Site,
    code: str,
    detail: str,
    error: type[SiagaError],
    message: Any,
    *,
    status: int | None = None,
) -> NoReturn:
    """A batch refused as a whole: counted against the token's site, nothing else written."""
    count_rejection(
        site=site, site_code=site.code, device_id="", channel=Channel.HTTP, code=code, detail=detail
    )
    raise error(code, message, detail={"detail": detail}, status=status)

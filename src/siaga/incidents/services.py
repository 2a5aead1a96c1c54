"""Use cases of incidents: report, acknowledge, respond, resolve, close, reopen, assign,
comment, add a photo, and the escalation sweep. Each change and its ledger entry and its
outbox messages commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, SiagaError
from siaga.core.ids import uuid7
from siaga.incidents.choices import (
    OPEN_STATES,
    Category,
    EventKind,
    LinkType,
    Severity,
    Source,
    State,
    TierLevel,
)
from siaga.incidents.models import (
    EscalationPolicy,
    EscalationTier,
    Incident,
    IncidentEvent,
    IncidentLink,
    IncidentPhoto,
    Notified,
    timeline_text,
)
from siaga.incidents.photos import Photo, decode_photo
from siaga.ledger import services as ledger
from siaga.notify import services as notify
from siaga.regions.codes import level_of
from siaga.regions.models import Region
from siaga.sites.models import Site, Zone
from siaga.sites.services import check_coordinates


@dataclass(frozen=True)
class Reported:
    incident: Incident
    created: bool
    # The photo sent with the report, when it was refused (too large, or not an image that can
    # be read): the report itself is kept, since a guard's report matters more than its picture.
    photo_refused: SiagaError | None = None


# ---------------------------------------------------------------------------------------------
# Helpers


def acting_unit(actor: User | None, region: str) -> Any:
    """The actor's unit that covers ``region`` (for the ledger entry), if any."""
    if actor is None:
        return None
    units = getattr(actor, "_siaga_units", None)
    if units is None:  # once per request: the actor object lives as long as the request
        units = [m.unit for m in actor.memberships.filter(active=True).select_related("unit")]
        actor._siaga_units = units  # type: ignore[attr-defined]
    for unit in units:
        root = unit.region_id
        if region == root or region.startswith(root + "."):
            return unit
    return None


@dataclass(frozen=True)
class _Line:
    """A timeline line waiting for its ledger entry."""

    kind: str
    actor: User | None
    text: str
    data: dict[str, Any]
    at: datetime | None
    client_id: uuid.UUID | None
    state: str


def _line(
    incident: Incident,
    kind: str,
    *,
    actor: User | None,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    client_id: uuid.UUID | None = None,
) -> _Line:
    return _Line(kind, actor, text, data or {}, at, client_id, incident.state)


def _write(incident: Incident, lines: list[_Line]) -> list[IncidentEvent]:
    """Timeline lines and their ledger entries, appended together as the caller's transaction's
    last step: the ledger's head is locked from the append to the commit, so appending last
    keeps that short while many reports arrive at once."""
    if not lines:
        return []
    subject_type, subject_id = ledger.subject_of(incident)
    entries = ledger.append_many(
        [
            ledger.Fact(
                kind=f"incident.{line.kind}",
                subject_type=subject_type,
                subject_id=subject_id,
                payload={"state": line.state, "text": line.text, **line.data},
                actor=line.actor.username if line.actor else "",
                unit=getattr(acting_unit(line.actor, incident.region_id), "name", ""),
                region=incident.region_id,
                id=line.client_id,
            )
            for line in lines
        ]
    )
    now = timezone.now()
    return IncidentEvent.objects.bulk_create(
        IncidentEvent(
            incident=incident,
            client_id=line.client_id,
            at=line.at or now,
            actor=line.actor,
            kind=line.kind,
            text=line.text,
            data=line.data,
            ledger_seq=entry.seq,
        )
        for line, entry in zip(lines, entries, strict=True)
    )


def _event(
    incident: Incident,
    kind: str,
    *,
    actor: User | None,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    client_id: uuid.UUID | None = None,
    later: list[_Line] | None = None,
) -> IncidentEvent | None:
    """A timeline line and its ledger entry, in the caller's transaction: written now, or, with
    ``later``, kept there for the caller to write with ``_write`` as its last step."""
    line = _line(incident, kind, actor=actor, text=text, data=data, at=at, client_id=client_id)
    if later is not None:
        later.append(line)
        return None
    return _write(incident, [line])[0]


def _visible(actor: User, incident_id: uuid.UUID, *, lock: bool = False) -> Incident:
    incidents = Incident.objects.for_user(actor, Action.VIEW)
    if lock:
        incidents = incidents.select_for_update()
    incident = incidents.filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(
            "incident_not_found", _("No such incident."), detail={"incident": str(incident_id)}
        )
    return incident


def _may_respond(actor: User, incident: Incident) -> None:
    if not user_can(actor, Action.RESPOND_INCIDENT, incident.region_id):
        raise PermissionDenied(
            "incident_out_of_scope",
            _("You may not handle incidents in this region."),
            detail={"region": incident.region_id},
        )


def _state_conflict(incident: Incident, wanted: str) -> Conflict:
    return Conflict(
        "incident_state_invalid",
        _("The incident cannot go from this state to the one asked for."),
        detail={"state": incident.state, "wanted": wanted},
    )


def _check_choice(category: str, severity: int) -> None:
    if category not in Category.values:
        raise InvalidInput(
            "incident_category_unknown",
            _("Unknown incident category."),
            detail={"category": category, "allowed": list(Category.values)},
        )
    if severity not in Severity.values:
        raise InvalidInput(
            "incident_severity_unknown",
            _("Severity must be 1 (critical) to 4 (low)."),
            detail={"severity": severity},
        )


def _place(
    actor: User, site_id: uuid.UUID | None, zone_id: uuid.UUID | None, region_code: str | None
) -> tuple[Site | None, Zone | None, str]:
    """Where the incident is: a site in scope, or a region; a guard with one post needs
    neither."""
    site = zone = None
    if site_id is not None:
        site = Site.objects.for_user(actor, Action.VIEW).filter(pk=site_id).first()
        if site is None:
            raise InvalidInput(
                "site_unknown", _("No such site in your scope."), detail={"site": str(site_id)}
            )
    if zone_id is not None:
        zone = Zone.objects.filter(pk=zone_id, site=site).first() if site else None
        if zone is None:
            raise InvalidInput(
                "zone_unknown", _("No such zone at this site."), detail={"zone": str(zone_id)}
            )
    if site is not None:
        return site, zone, site.region_id
    if region_code:
        if not Region.objects.filter(code=region_code, active=True).exists():
            raise InvalidInput(
                "region_unknown", _("No region has this code."), detail={"region": region_code}
            )
        return None, None, region_code
    roots = scope_roots(actor, Action.REPORT_INCIDENT) or frozenset()
    if len(roots) == 1:
        return None, None, next(iter(roots))
    raise InvalidInput(
        "incident_location_required",
        _("Say where it happened: a site, or a region."),
    )


def _replay(existing: Incident, actor: User, category: str, severity: int) -> Incident:
    """The phone sent the same report again (it never heard back): answer as before."""
    if (
        existing.reporter_id != actor.pk
        or existing.category != category
        or existing.severity != severity
    ):
        raise Conflict(
            "id_reused",
            _("This id was already used for a different record."),
            detail={"id": str(existing.pk)},
        )
    return existing


# ---------------------------------------------------------------------------------------------
# Reporting


def report_incident(
    *,
    actor: User,
    category: str,
    severity: int,
    id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
    region_code: str | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    description: str = "",
    occurred_at: datetime | None = None,
    photo: IO[bytes] | None = None,
    photo_size: int | None = None,
    links: list[tuple[str, str, str]] | None = None,
    now: datetime | None = None,
) -> Reported:
    """A person reports an incident. Idempotent on ``id``: a phone that resends its report
    gets the first one back. A photo that is refused (``photo_too_large``,
    ``photo_invalid``) does not refuse the report: it is sent without the photo, and
    ``Reported.photo_refused`` says why, for the person to be told."""
    _check_choice(category, severity)
    incident_id = id or uuid7()
    existing = Incident.objects.filter(pk=incident_id).first()
    if existing is not None:
        return Reported(_replay(existing, actor, category, severity), created=False)
    site, zone, region = _place(actor, site_id, zone_id, region_code)
    if not user_can(actor, Action.REPORT_INCIDENT, region):
        raise PermissionDenied(
            "incident_out_of_scope",
            _("You may not report incidents in this region."),
            detail={"region": region},
        )
    check_coordinates(latitude, longitude)
    now = now or timezone.now()
    if occurred_at is not None and occurred_at > now + timedelta(minutes=5):
        raise InvalidInput(
            "incident_time_in_future", _("An incident cannot have happened in the future.")
        )
    for link_type, _link_id, _label in links or []:
        if link_type not in LinkType.values:
            raise InvalidInput(
                "link_type_unknown", _("Unknown kind of link."), detail={"type": link_type}
            )
    decoded: Photo | None = None
    photo_refused: SiagaError | None = None
    if photo is not None:
        try:
            decoded = decode_photo(photo, size=photo_size)
        except SiagaError as refused:
            photo_refused = refused
    if decoded is not None and latitude is None and decoded.latitude is not None:
        latitude, longitude = decoded.latitude, decoded.longitude
        try:
            check_coordinates(latitude, longitude)
        except InvalidInput:
            latitude = longitude = None  # a photo's position outside Indonesia is not kept
    with transaction.atomic():
        try:
            # A savepoint: the same report racing in from two resends collides on the id.
            with transaction.atomic():
                incident = Incident.objects.create(
                    id=incident_id,
                    category=category,
                    severity=severity,
                    source=Source.PERSON,
                    site=site,
                    zone=zone,
                    region_id=region,
                    latitude=latitude,
                    longitude=longitude,
                    description=description.strip(),
                    reporter=actor,
                    occurred_at=occurred_at or now,
                    reported_at=now,
                )
        except IntegrityError:
            raced = Incident.objects.filter(pk=incident_id).first()
            if raced is None:
                raise
            return Reported(_replay(raced, actor, category, severity), created=False)
        later: list[_Line] = []
        _event(
            incident,
            EventKind.REPORTED,
            actor=actor,
            text=incident.description,
            data={
                "category": category,
                "severity": severity,
                "site": str(site.pk) if site else None,
                "zone": str(zone.pk) if zone else None,
                "latitude": None if latitude is None else str(latitude),
                "longitude": None if longitude is None else str(longitude),
                "occurred_at": incident.occurred_at.isoformat(),
            },
            at=now,
            later=later,
        )
        for link_type, link_id, label in links or []:
            IncidentLink.objects.get_or_create(
                incident=incident, link_type=link_type, link_id=link_id, defaults={"label": label}
            )
        if decoded is not None:
            _store_photo(incident, decoded, actor, at=now, later=later)
        _start_escalation(incident, now, later=later)
        _write(incident, later)
    return Reported(incident, created=True, photo_refused=photo_refused)


def open_incident_from_alarm(
    alarm: Any, *, category: str, severity: int, now: datetime | None = None
) -> Incident:
    """An alarm policy opens an incident, in the alarm's transaction. It escalates exactly as
    a reported one does; the alarm is its first link."""
    now = now or timezone.now()
    incident = Incident.objects.create(
        category=category,
        severity=severity,
        source=Source.ALARM,
        site=alarm.site,
        zone=alarm.zone,
        region_id=alarm.site.region_id,
        latitude=alarm.site.latitude,
        longitude=alarm.site.longitude,
        description=alarm.message,
        description_text=alarm.message_text or {},
        reporter=None,
        occurred_at=alarm.first_raised_at,
        reported_at=now,
    )
    later: list[_Line] = []
    _event(
        incident,
        EventKind.REPORTED,
        actor=None,
        text=alarm.message,
        data={
            "category": category,
            "severity": severity,
            "site": str(alarm.site_id),
            "alarm": str(alarm.pk),
            "occurred_at": alarm.first_raised_at.isoformat(),
        },
        at=now,
        later=later,
    )
    IncidentLink.objects.create(
        incident=incident, link_type=LinkType.ALARM, link_id=str(alarm.pk), label=alarm.message
    )
    for item in alarm.evidence:
        if item.get("type") in LinkType.values and item.get("id"):
            IncidentLink.objects.get_or_create(
                incident=incident,
                link_type=item["type"],
                link_id=str(item["id"]),
                defaults={"label": str(item.get("label", ""))[:200]},
            )
    _start_escalation(incident, now, later=later)
    _write(incident, later)
    return incident


def record_alarm_link(
    incident: Incident, alarm: Any, *, actor: User | None, now: datetime | None = None
) -> None:
    """An alarm joins the incident's evidence, on its timeline and in the ledger (called by
    ``alarms.services.link_alarm`` in its transaction)."""
    IncidentLink.objects.get_or_create(
        incident=incident,
        link_type=LinkType.ALARM,
        link_id=str(alarm.pk),
        defaults={"label": alarm.message[:200]},
    )
    _event(
        incident,
        EventKind.ALARM,
        actor=actor,
        text=alarm.message,
        data={"alarm": str(alarm.pk), "source": alarm.source, "kind": alarm.kind},
        at=now,
    )


def _store_photo(
    incident: Incident,
    decoded: Photo,
    actor: User | None,
    at: datetime | None = None,
    later: list[_Line] | None = None,
) -> IncidentPhoto:
    photo = IncidentPhoto(
        incident=incident,
        content_type=decoded.content_type,
        width=decoded.width,
        height=decoded.height,
        size=len(decoded.content),
        sha256=decoded.sha256,
        uploaded_by=actor,
    )
    photo.content = decoded.content
    photo.save()
    _event(
        incident,
        EventKind.PHOTO,
        actor=actor,
        data={"photo_id": str(photo.pk), "sha256": decoded.sha256, "bytes": photo.size},
        at=at,
        later=later,
    )
    return photo


def add_photo(
    *, actor: User, incident_id: uuid.UUID, photo: IO[bytes], size: int | None = None
) -> IncidentPhoto:
    """A photo added later, by anyone who may report or respond in the incident's region."""
    _visible(actor, incident_id)  # another kabupaten's incident is not found, whatever the file
    decoded = decode_photo(photo, size=size)
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        if not (
            user_can(actor, Action.REPORT_INCIDENT, incident.region_id)
            or user_can(actor, Action.RESPOND_INCIDENT, incident.region_id)
        ):
            raise PermissionDenied(
                "incident_out_of_scope", _("You may not add to incidents in this region.")
            )
        existing = IncidentPhoto.objects.filter(incident=incident, sha256=decoded.sha256).first()
        if existing is not None:
            return existing  # the same picture sent twice
        return _store_photo(incident, decoded, actor)


# ---------------------------------------------------------------------------------------------
# Lifecycle


def acknowledge_incident(
    *, actor: User, incident_id: uuid.UUID, now: datetime | None = None
) -> Incident:
    """ "I have it": stops the escalation. Acknowledging again changes nothing."""
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if incident.state != State.REPORTED:
            if incident.state in OPEN_STATES:
                return incident
            raise _state_conflict(incident, State.ACKNOWLEDGED)
        now = now or timezone.now()
        incident.state = State.ACKNOWLEDGED
        incident.acknowledged_at = now
        incident.acknowledged_by = actor
        incident.next_escalation_at = None
        incident.save(
            update_fields=[
                "state",
                "acknowledged_at",
                "acknowledged_by",
                "next_escalation_at",
                "updated_at",
            ]
        )
        _event(incident, EventKind.ACKNOWLEDGED, actor=actor, at=now)
        _tell_notified(
            incident,
            title=i18n.text(gettext_noop("Acknowledged by %(name)s"), name=actor.display_name),
            step="ack",
        )
    return incident


def start_response(*, actor: User, incident_id: uuid.UUID, now: datetime | None = None) -> Incident:
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if incident.state == State.RESPONDING:
            return incident
        if incident.state not in (State.REPORTED, State.ACKNOWLEDGED):
            raise _state_conflict(incident, State.RESPONDING)
        now = now or timezone.now()
        if incident.acknowledged_at is None:  # responding implies having seen it
            incident.acknowledged_at, incident.acknowledged_by = now, actor
        incident.state = State.RESPONDING
        incident.next_escalation_at = None
        if incident.assignee_id is None:
            incident.assignee = actor
        incident.save()
        _event(incident, EventKind.RESPONDING, actor=actor, at=now)
    return incident


def resolve_incident(
    *, actor: User, incident_id: uuid.UUID, resolution: str, now: datetime | None = None
) -> Incident:
    resolution = resolution.strip()
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if not resolution:
            raise InvalidInput("resolution_required", _("Say how the incident was resolved."))
        if incident.state == State.RESOLVED and incident.resolution == resolution:
            return incident
        if incident.state not in OPEN_STATES:
            raise _state_conflict(incident, State.RESOLVED)
        now = now or timezone.now()
        if incident.acknowledged_at is None:
            incident.acknowledged_at, incident.acknowledged_by = now, actor
        incident.state = State.RESOLVED
        incident.resolved_at = now
        incident.resolution = resolution
        incident.next_escalation_at = None
        incident.save()
        _event(incident, EventKind.RESOLVED, actor=actor, text=resolution, at=now)
        _tell_notified(
            incident,
            title=i18n.text(gettext_noop("Resolved by %(name)s"), name=actor.display_name),
            step="resolved",
        )
    return incident


def close_incident(*, actor: User, incident_id: uuid.UUID, now: datetime | None = None) -> Incident:
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if incident.state == State.CLOSED:
            return incident
        if incident.state != State.RESOLVED:
            raise _state_conflict(incident, State.CLOSED)
        now = now or timezone.now()
        incident.state = State.CLOSED
        incident.closed_at = now
        incident.save(update_fields=["state", "closed_at", "updated_at"])
        _event(incident, EventKind.CLOSED, actor=actor, at=now)
    return incident


def reopen_incident(*, actor: User, incident_id: uuid.UUID, reason: str) -> Incident:
    """Back to acknowledged (someone has it): the reopener is the one who saw it was not over."""
    reason = reason.strip()
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if not reason:
            raise InvalidInput("reopen_reason_required", _("Say why the incident is reopened."))
        if incident.state not in (State.RESOLVED, State.CLOSED):
            raise _state_conflict(incident, "reopened")
        now = timezone.now()
        incident.state = State.ACKNOWLEDGED
        incident.resolved_at = incident.closed_at = None
        incident.save()
        _event(incident, EventKind.REOPENED, actor=actor, text=reason, at=now)
    return incident


def assign_responder(*, actor: User, incident_id: uuid.UUID, user_id: int) -> Incident:
    with transaction.atomic():
        incident = _visible(actor, incident_id, lock=True)
        _may_respond(actor, incident)
        if incident.state not in OPEN_STATES:
            raise _state_conflict(incident, "assigned")
        responder = User.objects.filter(pk=user_id, is_active=True).first()
        if responder is None or not user_can(
            responder, Action.RESPOND_INCIDENT, incident.region_id
        ):
            raise InvalidInput(
                "responder_invalid",
                _("This person cannot respond to incidents here."),
                detail={"user": user_id},
            )
        if incident.assignee_id == responder.pk:
            return incident
        incident.assignee = responder
        incident.save(update_fields=["assignee", "updated_at"])
        _event(
            incident,
            EventKind.ASSIGNED,
            actor=actor,
            text=responder.display_name,
            data={"assignee": responder.username},
        )
        notify.notify_user(
            responder,
            kind="incident.assigned",
            title=i18n.text(gettext_noop("You are the responder: %(ref)s"), ref=incident.reference),
            body=_summary(incident),
            url=incident_url(incident),
            dedup_key=f"incident:{incident.pk}:assigned:{responder.pk}:{uuid7()}",
            about=("incidents.incident", str(incident.pk)),
        )
    return incident


def comment_on_incident(
    *,
    actor: User,
    incident_id: uuid.UUID,
    text: str,
    id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> IncidentEvent:
    """Anyone who can see the incident may add to its timeline; Bawaslu's notes too."""
    text = text.strip()
    with transaction.atomic():
        # Not found comes before any complaint about the text.
        incident = _visible(actor, incident_id, lock=True)
        if not text:
            raise InvalidInput("comment_empty", _("A comment needs some text."))
        if not (
            user_can(actor, Action.REPORT_INCIDENT, incident.region_id)
            or user_can(actor, Action.RESPOND_INCIDENT, incident.region_id)
            or user_can(actor, Action.FILE_FINDING, incident.region_id)
        ):
            raise PermissionDenied(
                "incident_out_of_scope", _("You may not comment on incidents here.")
            )
        if id is not None:
            existing = IncidentEvent.objects.filter(client_id=id).first()
            if existing is not None:
                if (existing.incident_id, existing.actor_id, existing.text) != (
                    incident.pk,
                    actor.pk,
                    text,
                ):
                    raise Conflict(
                        "id_reused", _("This id was already used for a different record.")
                    )
                return existing
        line = _line(
            incident, EventKind.COMMENT, actor=actor, text=text, client_id=id or uuid7(), at=now
        )
        return _write(incident, [line])[0]


# ---------------------------------------------------------------------------------------------
# Escalation


def incident_url(incident: Incident) -> str:
    return f"/insiden/{incident.pk}/"


def _summary(incident: Incident) -> i18n.Text:
    """The body of incident messages, as a tree rendered in each recipient's language."""
    place = incident.site.name if incident.site else incident.region.name
    if incident.zone:
        place = f"{place} — {incident.zone.name}"
    return i18n.lines(
        i18n.lines(
            i18n.label(Category, incident.category),
            i18n.label(Severity, incident.severity),
            sep=" · ",
        ),
        i18n.text(gettext_noop("Where: %(place)s"), place=place),
        i18n.text(
            gettext_noop("When: %(time)s"),
            time=f"{timezone.localtime(incident.occurred_at):%d-%m-%Y %H:%M %Z}",
        ),
        i18n.text(gettext_noop("Reported by: %(name)s"), name=incident.reporter.display_name)
        if incident.reporter
        else None,
        incident.description_text or incident.description[:500] or None,
    )


def policy_for(category: str, severity: int) -> EscalationPolicy | None:
    for policy in EscalationPolicy.objects.filter(active=True).prefetch_related("tiers"):
        if policy.matches(category, severity):
            return policy
    return None


def tier_region(tier: EscalationTier, region: str) -> str:
    """The region whose units the tier addresses: the incident's kabupaten or province."""
    parts = region.split(".")
    if tier.level == TierLevel.PROVINSI:
        return parts[0]
    if level_of(region) >= 2:
        return ".".join(parts[:2])
    return region


def tier_recipients(tier: EscalationTier, region: str) -> list[User]:
    """Everyone the tier names in the units of its region, in one query. A "role:Post" target
    names one post; where nobody holds it there, the whole role is told rather than nobody."""
    wanted = [str(target).partition(":") for target in tier.targets]
    rows = list(
        Membership.objects.filter(
            active=True,
            unit__region_id=tier_region(tier, region),
            user__is_active=True,
            role__in={role for role, _sep, _post in wanted},
        ).select_related("user")
    )
    users: dict[int, User] = {}
    for role, _sep, post in wanted:
        in_role = [m for m in rows if m.role == role]
        holders = [m for m in in_role if post and m.position.casefold() == post.casefold()]
        for membership in holders or in_role:
            users[membership.user_id] = membership.user
    return [users[pk] for pk in sorted(users)]


def _tier(incident: Incident, number: int) -> EscalationTier | None:
    if incident.policy_id is None:
        return None
    policy = incident.policy
    tiers = getattr(policy, "_prefetched_objects_cache", {}).get("tiers")
    if tiers is not None:
        return next((t for t in tiers if t.number == number), None)
    return EscalationTier.objects.filter(policy_id=incident.policy_id, number=number).first()


def _notify_tier(incident: Incident, tier: EscalationTier, now: datetime, *, step: str) -> int:
    """Tell each person of the tier (and record that they were told)."""
    title = i18n.text(
        gettext_noop("[SIAGA] %(category)s — severity %(severity)s — %(ref)s"),
        category=i18n.label(Category, incident.category),
        severity=incident.severity,
        ref=incident.reference,
    )
    if step.startswith("reminder"):
        title = i18n.text(gettext_noop("REMINDER, still unacknowledged: %(title)s"), title=title)
    elif tier.number > 1:
        title = i18n.text(
            gettext_noop("ESCALATED (tier %(tier)s): %(title)s"), tier=tier.number, title=title
        )
    body = i18n.lines(
        _summary(incident),
        i18n.ngettext(
            "Acknowledge within %(minutes)s minute.",
            "Acknowledge within %(minutes)s minutes.",
            tier.ack_minutes,
            minutes=tier.ack_minutes,
        ),
    )
    users = tier_recipients(tier, incident.region_id)
    for user in users:
        notify.notify_user(
            user,
            kind="incident.escalation",
            title=title,
            body=body,
            url=incident_url(incident),
            data={"incident": str(incident.pk), "tier": tier.number},
            dedup_key=f"incident:{incident.pk}:tier:{tier.number}:{step}",
            about=("incidents.incident", str(incident.pk)),
        )
    # Who was told, in two statements whatever the tier's size (the incident row is locked).
    known = {
        n.user_id: n
        for n in Notified.objects.filter(incident=incident, user_id__in=[u.pk for u in users])
    }
    for notice in known.values():
        notice.last_at, notice.times = now, notice.times + 1
    Notified.objects.bulk_update(list(known.values()), ["last_at", "times"])
    Notified.objects.bulk_create(
        Notified(incident=incident, user=u, tier=tier.number, first_at=now, last_at=now)
        for u in users
        if u.pk not in known
    )
    return len(users)


def _tell_notified(incident: Incident, *, title: i18n.Text, step: str) -> None:
    """Close the loop: everyone who was told of the incident hears how it went."""
    for notice in Notified.objects.filter(incident=incident).select_related("user"):
        notify.notify_user(
            notice.user,
            kind=f"incident.{step}",
            title=i18n.lines(incident.reference, title, sep=": "),
            body=_summary(incident),
            url=incident_url(incident),
            dedup_key=f"incident:{incident.pk}:{step}:{uuid7()}",
            about=("incidents.incident", str(incident.pk)),
        )


def _start_escalation(
    incident: Incident, now: datetime, *, later: list[_Line] | None = None
) -> None:
    """Tier 1 hears at once; webhooks of units covering the region too."""
    policy = policy_for(incident.category, incident.severity)
    notify.notify_webhooks(
        incident.region_id,
        kind="incident.reported",
        title=i18n.lines(i18n.label(Category, incident.category), incident.reference, sep=" — "),
        body=_summary(incident),
        url=incident_url(incident),
        data={
            "incident": str(incident.pk),
            "category": incident.category,
            "severity": incident.severity,
            "region": incident.region_id,
            "site": str(incident.site_id) if incident.site_id else None,
            "state": incident.state,
        },
        dedup_key=f"incident:{incident.pk}:reported",
        about=("incidents.incident", str(incident.pk)),
    )
    if policy is None:
        return
    incident.policy = policy
    first = _tier(incident, 1)
    if first is None:
        incident.save(update_fields=["policy", "updated_at"])
        return
    incident.tier = 1
    incident.tier_started_at = now
    incident.next_escalation_at = now + timedelta(
        minutes=min(first.remind_minutes or first.ack_minutes, first.ack_minutes)
    )
    incident.save(
        update_fields=["policy", "tier", "tier_started_at", "next_escalation_at", "updated_at"]
    )
    told = _notify_tier(incident, first, now, step="first")
    _event(
        incident,
        EventKind.ESCALATED,
        actor=None,
        text=timeline_text(EventKind.ESCALATED, {"tier": 1, "told": told}, "id"),
        data={"tier": 1, "told": told, "policy": policy.name},
        at=now,
        later=later,
    )


def escalate_due(now: datetime | None = None, *, limit: int = 100) -> int:
    """The sweep the workers run: remind the current tier, or tell the next one when the
    deadline passed unacknowledged. Each incident in its own transaction, locked so two
    workers never escalate it twice."""
    now = now or timezone.now()
    done = 0
    due = list(
        Incident.objects.filter(state=State.REPORTED, next_escalation_at__lte=now)
        .order_by("next_escalation_at")
        .values_list("pk", flat=True)[:limit]
    )
    for incident_id in due:
        with transaction.atomic():
            locked = Incident.objects.select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            ).filter(pk=incident_id, state=State.REPORTED, next_escalation_at__lte=now)
            incident = locked.select_related("site", "zone", "region", "reporter").first()
            if incident is None:
                continue
            _escalate_one(incident, now)
            done += 1
    return done


def _escalate_one(incident: Incident, now: datetime) -> None:
    tier = _tier(incident, incident.tier)
    if tier is None or incident.tier_started_at is None:
        incident.next_escalation_at = None
        incident.save(update_fields=["next_escalation_at", "updated_at"])
        return
    deadline = incident.tier_started_at + timedelta(minutes=tier.ack_minutes)
    following = _tier(incident, incident.tier + 1)
    if now >= deadline and following is not None:
        incident.tier = following.number
        incident.tier_started_at = now
        incident.next_escalation_at = now + timedelta(
            minutes=min(following.remind_minutes or following.ack_minutes, following.ack_minutes)
        )
        incident.save(update_fields=["tier", "tier_started_at", "next_escalation_at", "updated_at"])
        told = _notify_tier(incident, following, now, step="first")
        data = {"tier": following.number, "told": told, "after_minutes": tier.ack_minutes}
        _event(
            incident,
            EventKind.ESCALATED,
            actor=None,
            text=timeline_text(EventKind.ESCALATED, data, "id"),
            data=data,
            at=now,
        )
        return
    # A reminder to everyone told so far.
    reminders = incident.events.filter(kind=EventKind.REMINDED).count() + 1
    told = 0
    for number in range(1, incident.tier + 1):
        earlier = _tier(incident, number)
        if earlier is not None:
            told += _notify_tier(incident, earlier, now, step=f"reminder-{reminders}")
    remind = timedelta(minutes=tier.remind_minutes or tier.ack_minutes)
    next_at = now + remind
    if following is not None and deadline > now:
        next_at = min(next_at, deadline)
    incident.next_escalation_at = next_at
    incident.save(update_fields=["next_escalation_at", "updated_at"])
    data = {"tier": incident.tier, "reminder": reminders, "told": told}
    _event(
        incident,
        EventKind.REMINDED,
        actor=None,
        text=timeline_text(EventKind.REMINDED, data, "id"),
        data=data,
        at=now,
    )


def open_acknowledgements(user: User) -> QuerySet[Incident]:
    """Incidents this person was told of that still wait for someone to acknowledge, where
    they may acknowledge (Bawaslu is told, but acknowledging is the responders' part)."""
    return (
        Incident.objects.for_user(user, Action.RESPOND_INCIDENT)
        .filter(state=State.REPORTED, notified__user=user)
        .select_related("site", "region")
        .order_by("severity", "reported_at")
    )

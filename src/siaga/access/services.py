"""Use cases of the gate: register visitors and visits, approve or deny them, issue standing
passes, check people in and out under the site's rules, keep the watchlist, and the sweep that
expires visits and raises overstay alarms.

Each change, its gate event or visit, the "who is inside" board and its ledger entries commit
together. Refusals change nothing, with one exception on purpose: a watchlisted person at the
gate raises an alarm (and its ledger entry) before the refusal is answered."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from siaga.access.choices import (
    PENDING_STATES,
    GateEventKind,
    ItemKind,
    Officer,
    PassKind,
    Purpose,
    VisitState,
)
from siaga.access.models import (
    GateEvent,
    Presence,
    SiteRules,
    StandingPass,
    Visit,
    Visitor,
)
from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Membership, User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, unit_covering, user_can
from siaga.alarms import services as alarms
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.ids import uuid7
from siaga.core.rows import Columns
from siaga.incidents.photos import decode_photo
from siaga.ledger import services as ledger
from siaga.notify import services as notify
from siaga.regions.codes import covering_codes, subtree_q
from siaga.regions.timezones import time_zone_of
from siaga.sites.choices import ZoneKind
from siaga.sites.models import Site, Zone

# A visitor may come this long before the planned start; later than the planned end the visit
# has expired.
EARLY_ARRIVAL = dt.timedelta(hours=2)
MAX_VISIT_LENGTH = dt.timedelta(days=7)
MAX_PASS_LENGTH = dt.timedelta(days=400)
# Indonesian plates: area letters, number, suffix letters ("BG 1234 AB", "B 1 RI").
_PLATE = re.compile(r"^([A-Z]{1,2}) ?(\d{1,4}) ?([A-Z]{0,3})$")
_WEEKDAYS = re.compile(r"^[1-7]{1,7}$")
# Who counts for the two-person rule: a KPU officer with a Polri or Bawaslu officer.
_KPU_SIDE = frozenset({Officer.KPU})
_GUARD_SIDE = frozenset({Officer.POLRI, Officer.BAWASLU})
_AGENCY_OFFICER = {
    AgencyKind.KPU: Officer.KPU,
    AgencyKind.POLRI: Officer.POLRI,
    AgencyKind.BAWASLU: Officer.BAWASLU,
}


@dataclass(frozen=True)
class PersonData:
    """A person as the gate registers them; the NIK finds an existing record."""

    nik: str
    name: str = ""
    organisation: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Item:
    kind: str
    count: int = 1
    label: str = ""


@dataclass
class _Entry:
    """One person going into a zone in a check-in (the entrant or a companion)."""

    visitor: Visitor
    visit: Visit | None
    standing_pass: StandingPass | None
    presence: Presence | None
    event_id: uuid.UUID
    companions: list[dict[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Small checks shared by the use cases


def normalise_phone(raw: str) -> str:
    """An Indonesian phone number in E.164 (+62…), or ``phone_invalid``."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or phonenumbers.region_code_for_number(number) != "ID"
        or not phonenumbers.is_valid_number(number)
    ):
        raise InvalidInput(
            "phone_invalid",
            _("This is not a valid Indonesian phone number (e.g. 0812 3456 7890)."),
            detail={"field": "phone"},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_plate(raw: str) -> str:
    """A vehicle plate as "BG 1234 AB", or ``plate_invalid``."""
    compact = re.sub(r"[\s.-]+", " ", (raw or "").strip().upper())
    if not compact:
        return ""
    match = _PLATE.match(compact.replace(" ", "")) or _PLATE.match(compact)
    if match is None:
        raise InvalidInput(
            "plate_invalid",
            _("This is not an Indonesian vehicle plate (e.g. BG 1234 AB)."),
            detail={"field": "vehicle_plate"},
        )
    return " ".join(part for part in match.groups() if part)


def _check_items(items: Sequence[Item]) -> list[dict[str, Any]]:
    cleaned = []
    for item in items:
        if item.kind not in ItemKind.values:
            raise InvalidInput(
                "item_kind_unknown",
                _("Unknown kind of item."),
                detail={"kind": item.kind, "allowed": list(ItemKind.values)},
            )
        if not 1 <= item.count <= 999:
            raise InvalidInput(
                "item_count_invalid", _("An item count is 1 to 999."), detail={"kind": item.kind}
            )
        cleaned.append({"kind": item.kind, "count": item.count, "label": item.label.strip()[:100]})
    return cleaned


def local_time(site: Site, at: dt.datetime) -> dt.datetime:
    return at.astimezone(time_zone_of(site.region_id))


def rules_of(site: Site) -> SiteRules:
    """The site's rules, or the defaults (not saved) when nobody has set any."""
    try:
        return site.access_rules
    except SiteRules.DoesNotExist:
        return SiteRules(site=site)


def needs_two_persons(zone: Zone | None) -> bool:
    return zone is not None and (zone.restricted or zone.kind == ZoneKind.STORAGE)


def _site_in_scope(actor: User, site_id: uuid.UUID, action: str, code: str) -> Site:
    site = Site.objects.filter(pk=site_id, active=True).select_related("access_rules").first()
    if site is None or not user_can(actor, Action.VIEW, site.region_id):
        raise NotFound("site_not_found", _("No such site."))
    if not user_can(actor, action, site.region_id):
        raise PermissionDenied(code, _("You may not do this at this site."))
    return site


def _zones_of(site: Site, zone_ids: Iterable[uuid.UUID]) -> list[Zone]:
    wanted = set(zone_ids)
    zones = list(Zone.objects.filter(site=site, pk__in=wanted))
    if len(zones) != len(wanted):
        missing = sorted(str(z) for z in wanted - {z.pk for z in zones})
        raise InvalidInput(
            "zone_unknown", _("No such zone at this site."), detail={"zones": missing}
        )
    return zones


def _ledger(
    kind: str,
    subject: Any,
    actor: User | None,
    site: Site,
    payload: dict[str, Any],
) -> ledger.Fact:
    unit = unit_covering(actor, site.region_id)
    label, pk = subject if isinstance(subject, tuple) else ledger.subject_of(subject)
    return ledger.Fact(
        kind=f"access.{kind}",
        subject_type=label,
        subject_id=pk,
        payload={"site": str(site.pk), **payload},
        actor=actor.username if actor else "",
        unit=unit,
        region=site.region_id,
    )


def _person_payload(visitor: Visitor) -> dict[str, Any]:
    # The ledger is exported to oversight bodies: it names a person by record and masked NIK.
    return {"visitor": str(visitor.pk), "nik": visitor.masked_nik, "name": visitor.name}


# ---------------------------------------------------------------------------------------------
# Visitors and the watchlist


def _upsert_visitor(person: PersonData, *, now: dt.datetime) -> tuple[Visitor, bool]:
    """Find the person by NIK, or create them; fill in what was missing. Validated first."""
    nik = validate_nik(person.nik, today=timezone.localdate(now)).nik
    name = person.name.strip()
    phone = normalise_phone(person.phone)
    visitor = Visitor.objects.filter(nik=nik).first()
    if visitor is None:
        if not name:
            raise InvalidInput(
                "visitor_name_required",
                _("A new visitor needs a name, as on the KTP."),
                detail={"field": "name"},
            )
        try:
            with transaction.atomic():
                return (
                    Visitor.objects.create(
                        nik=nik,
                        name=name[:150],
                        organisation=person.organisation.strip()[:150],
                        phone=phone,
                    ),
                    True,
                )
        except IntegrityError:
            visitor = Visitor.objects.get(nik=nik)
    changed = []
    for attr, value in (
        ("name", name[:150]),
        ("organisation", person.organisation.strip()[:150]),
        ("phone", phone),
    ):
        if value and getattr(visitor, attr) != value:
            setattr(visitor, attr, value)
            changed.append(attr)
    if changed:
        visitor.save(update_fields=[*changed, "updated_at"])
    return visitor, False


def _may_use_gate(actor: User) -> bool:
    roots = scope_roots(actor, Action.OPERATE_GATE)
    approvers = scope_roots(actor, Action.APPROVE_ACCESS)
    return roots is None or approvers is None or bool(roots) or bool(approvers)


def find_visitor(*, actor: User, nik: str) -> Visitor | None:
    """The gate's look-up by NIK: whoever works a gate or approves access may find a person by
    the full number (they hold the KTP); listing people is scoped elsewhere."""
    if not _may_use_gate(actor):
        raise PermissionDenied("gate_not_allowed", _("You do not work at a gate."))
    number = validate_nik(nik).nik
    return Visitor.objects.filter(nik=number).first()


def set_visitor_photo(
    *, actor: User, visitor_id: uuid.UUID, photo: IO[bytes], size: int | None = None
) -> Visitor:
    """Store a visitor's photo: it must decode as an image, at most the configured size (5 MB),
    and is re-encoded without metadata."""
    visitor = Visitor.objects.for_user(actor, Action.OPERATE_GATE).filter(pk=visitor_id).first()
    if visitor is None:
        raise NotFound("visitor_not_found", _("No such visitor."))
    decoded = decode_photo(photo, size=size, max_bytes=settings.VISITOR_PHOTO_MAX_BYTES)
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        visitor.photo = decoded.content
        visitor.photo_content_type = decoded.content_type
        visitor.photo_sha256 = decoded.sha256
        visitor.save(update_fields=["photo", "photo_content_type", "photo_sha256", "updated_at"])
        label, pk = ledger.subject_of(visitor)
        ledger.append(
            kind="access.visitor.photo",
            subject=(label, pk),
            actor=actor,
            payload={**_person_payload(visitor), "sha256": decoded.sha256},
        )
    return visitor


def set_watchlist(
    *,
    actor: User,
    nik: str,
    listed: bool,
    reason: str = "",
    name: str = "",
    now: dt.datetime | None = None,
) -> Visitor:
    """Put a NIK on the watchlist (or take it off). Kapolres, commissioners and admins may;
    the list is national, as a person is."""
    roots = scope_roots(actor, Action.APPROVE_ACCESS)
    if roots is not None and not roots:
        raise PermissionDenied("watchlist_not_allowed", _("You may not change the watchlist."))
    reason = reason.strip()
    if listed and not reason:
        raise InvalidInput(
            "watchlist_reason_required",
            _("Say why this person is on the watchlist."),
            detail={"field": "reason"},
        )
    now = now or timezone.now()
    with transaction.atomic():
        visitor, _created = _upsert_visitor(PersonData(nik=nik, name=name), now=now)
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if visitor.watchlisted and not user_can(
            actor, Action.APPROVE_ACCESS, visitor.watchlist_region or "00"
        ):
            # A listing holds everywhere; only those covering the lister's region change it.
            raise PermissionDenied(
                "watchlist_not_allowed",
                _("This listing was made in another region; only its approvers may change it."),
            )
        if visitor.watchlisted == listed and (not listed or visitor.watchlist_reason == reason):
            return visitor
        visitor.watchlisted = listed
        visitor.watchlist_reason = reason[:300] if listed else ""
        visitor.watchlisted_at = now if listed else None
        visitor.watchlisted_by = actor if listed else None
        if listed and not visitor.watchlist_region:
            visitor.watchlist_region = "" if roots is None else min(roots, key=len)
        elif not listed:
            visitor.watchlist_region = ""
        visitor.save()
        ledger.append(
            kind="access.watchlist.listed" if listed else "access.watchlist.unlisted",
            subject=visitor,
            actor=actor,
            payload={**_person_payload(visitor), "reason": visitor.watchlist_reason},
        )
    return visitor


class Watchlisted(PermissionDenied):
    pass


WATCHLISTED_MESSAGE = _(
    "This person is on the watchlist and may not enter. The Kapolres and KPU are alerted."
)


def _refuse_watchlisted(
    actor: User, visitor: Visitor, site: Site, zone: Zone | None, now: dt.datetime, step: str
) -> None:
    """Raise the alarm (its own transaction, so it stays) and refuse."""
    with transaction.atomic():
        alarm = alarms.raise_alarm(
            source="access",
            key=f"watchlist:{site.pk}:{visitor.pk}",
            kind="watchlist",
            site=site,
            zone=zone,
            severity="major",
            message=_g("Watchlisted person at the gate: %(name)s (%(nik)s)")
            % {"name": visitor.name, "nik": visitor.masked_nik},
            evidence=[{"type": "visitor", "id": str(visitor.pk), "label": visitor.name}],
            actor=actor,
            now=now,
        )
        label, pk = ledger.subject_of(visitor)
        ledger.append(
            kind="access.refused",
            subject=(label, pk),
            actor=actor,
            unit=unit_covering(actor, site.region_id),
            region=site.region_id,
            payload={
                **_person_payload(visitor),
                "site": str(site.pk),
                "reason": "watchlisted",
                "step": step,
                "alarm": str(alarm.pk),
            },
        )
    raise Watchlisted(
        "watchlisted",
        WATCHLISTED_MESSAGE,
        detail={"visitor": str(visitor.pk), "alarm": str(alarm.pk)},
    )


# ---------------------------------------------------------------------------------------------
# Visits


def _may_host(user: User, site: Site) -> bool:
    """A host is a KPU officer, commissioner or commander of the site's region; guards check
    people in, they do not host them."""
    return user.is_active and (
        user_can(user, Action.RECORD_LOGISTICS, site.region_id)
        or user_can(user, Action.APPROVE_ACCESS, site.region_id)
    )


def _after_hours_in(rules: SiteRules, site: Site, start: dt.datetime, end: dt.datetime) -> bool:
    """Does any part of the window fall after hours (checked every quarter hour)?"""
    at = start
    while at < end:
        if rules.is_after_hours(local_time(site, at).time()):
            return True
        at += dt.timedelta(minutes=15)
    return rules.is_after_hours(local_time(site, end - dt.timedelta(seconds=1)).time())


def register_visit(
    *,
    actor: User,
    person: PersonData,
    site_id: uuid.UUID,
    zone_ids: Sequence[uuid.UUID],
    purpose: str,
    host_id: int | None,
    planned_start: dt.datetime | None = None,
    planned_end: dt.datetime,
    purpose_text: str = "",
    walk_in: bool = False,
    vehicle_plate: str = "",
    id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Created[Visit]:
    """A host pre-registers a guest (approved at once: the host is the approver), or the guard
    registers a walk-in at the gate (waiting for the host or a commissioner). A commissioner's
    registration also approves the hours after closing. Idempotent on ``id``."""
    now = now or timezone.now()
    visit_id = id or uuid7()
    existing = Visit.objects.filter(pk=visit_id).select_related("visitor").first()
    if existing is not None:
        replay_or_conflict(
            existing,
            {
                "site_id": site_id,
                "registered_by_id": actor.pk,
                "purpose": purpose,
                "visitor.nik": person.nik.strip(),
            },
        )
        return Created(existing, created=False)
    site = _site_in_scope(actor, site_id, Action.VIEW, "visit_out_of_scope")
    if not (
        user_can(actor, Action.OPERATE_GATE, site.region_id)
        or user_can(actor, Action.APPROVE_ACCESS, site.region_id)
    ):
        raise PermissionDenied("visit_out_of_scope", _("You may not register visits here."))
    if purpose not in Purpose.values:
        raise InvalidInput(
            "purpose_unknown",
            _("Unknown purpose of visit."),
            detail={"purpose": purpose, "allowed": list(Purpose.values)},
        )
    start = planned_start or now
    if planned_end <= start:
        raise InvalidInput(
            "visit_window_invalid",
            _("The planned end must come after the planned start."),
            detail={"field": "planned_end"},
        )
    if planned_end - start > MAX_VISIT_LENGTH:
        raise InvalidInput(
            "visit_too_long",
            _("A visit lasts at most 7 days; staff need a standing pass."),
            detail={"field": "planned_end"},
        )
    if planned_end <= now:
        raise InvalidInput(
            "visit_in_past", _("The visit would already be over."), detail={"field": "planned_end"}
        )
    zones = _zones_of(site, zone_ids)
    if host_id is None:
        host = None if walk_in else actor
    else:
        host = User.objects.filter(pk=host_id).first()
    if host is None or not _may_host(host, site):
        raise InvalidInput(
            "host_invalid",
            _("The host must be a KPU officer or commissioner of this site's region."),
            detail={"field": "host", "host": host_id},
        )
    plate = normalise_plate(vehicle_plate)
    # The NIK is checked before anything is written; a listed person is refused before too.
    nik = validate_nik(person.nik, today=timezone.localdate(now)).nik
    listed = Visitor.objects.filter(nik=nik, watchlisted=True).first()
    if listed is not None:
        _refuse_watchlisted(actor, listed, site, zones[0] if zones else None, now, "register")
    rules = rules_of(site)
    approver = not walk_in and (
        host == actor or user_can(actor, Action.APPROVE_ACCESS, site.region_id)
    )
    after_hours = _after_hours_in(rules, site, start, planned_end)
    commissioner = user_can(actor, Action.APPROVE_ACCESS, site.region_id)
    with transaction.atomic():
        visitor, visitor_new = _upsert_visitor(person, now=now)
        try:
            with transaction.atomic():
                visit = Visit.objects.create(
                    id=visit_id,
                    visitor=visitor,
                    site=site,
                    purpose=purpose,
                    purpose_text=purpose_text.strip()[:300],
                    host=host,
                    planned_start=start,
                    planned_end=planned_end,
                    walk_in=walk_in,
                    after_hours=after_hours,
                    vehicle_plate=plate,
                    registered_by=actor,
                    state=VisitState.APPROVED if approver else VisitState.REQUESTED,
                    decided_at=now if approver else None,
                    decided_by=actor if approver else None,
                    after_hours_approved_at=now if approver and commissioner else None,
                    after_hours_approved_by=actor if approver and commissioner else None,
                )
        except IntegrityError:
            raced = Visit.objects.filter(pk=visit_id).first()
            if raced is None:
                raise
            return Created(raced, created=False)
        visit.zones.set(zones)
        facts = []
        if visitor_new:
            facts.append(
                _ledger("visitor.registered", visitor, actor, site, _person_payload(visitor))
            )
        facts.append(
            _ledger(
                "visit.registered",
                visit,
                actor,
                site,
                {
                    **_person_payload(visitor),
                    "zones": sorted(str(z.pk) for z in zones),
                    "purpose": purpose,
                    "host": host.username,
                    "planned_start": start.isoformat(),
                    "planned_end": planned_end.isoformat(),
                    "walk_in": walk_in,
                    "state": visit.state,
                    "after_hours_approved": visit.after_hours_approved_at is not None,
                },
            )
        )
        ledger.append_many(facts)
        if visit.state == VisitState.REQUESTED:
            _ask_for_approval(visit, after_hours=after_hours)
    return Created(visit, created=True)


def _approvers(site: Site) -> QuerySet[User]:
    """Who may approve after hours at ``site``: commissioners and police commanders whose unit
    covers it."""
    covering = covering_codes(site.region_id)
    memberships = Membership.objects.filter(
        active=True, user__is_active=True, unit__region_id__in=covering
    ).filter(role__in=[Role.KPU_COMMISSIONER, Role.POLICE_COMMANDER])
    return User.objects.filter(pk__in=memberships.values("user_id")).order_by("pk")


def _ask_for_approval(visit: Visit, *, after_hours: bool) -> None:
    people = [visit.host]
    if after_hours:
        people += [u for u in _approvers(visit.site) if u.pk != visit.host_id]
    with translation.override("id"):
        title = _g("[SIAGA] Guest waiting at the gate: %(name)s") % {"name": visit.visitor.name}
        body = _g("%(site)s — %(purpose)s. Approve or deny on SIAGA.") % {
            "site": visit.site.name,
            "purpose": visit.get_purpose_display(),
        }
        if after_hours:
            body += " " + _g("After hours: a commissioner's approval is needed.")
    for user in people:
        notify.notify_user(
            user,
            kind="visit.requested",
            title=title,
            body=body,
            url=f"/gerbang/kunjungan/{visit.pk}/",
            data={"visit": str(visit.pk), "after_hours": after_hours},
            dedup_key=f"visit:{visit.pk}:requested",
            about=("access.visit", str(visit.pk)),
        )


def _tell_gate(visit: Visit, step: str) -> None:
    with translation.override("id"):
        if step == "approved":
            title = _g("[SIAGA] Guest approved: %(name)s") % {"name": visit.visitor.name}
        else:
            title = _g("[SIAGA] Guest denied: %(name)s") % {"name": visit.visitor.name}
    notify.notify_user(
        visit.registered_by,
        kind=f"visit.{step}",
        title=title,
        body=visit.deny_reason,
        url=f"/gerbang/kunjungan/{visit.pk}/",
        data={"visit": str(visit.pk)},
        dedup_key=f"visit:{visit.pk}:{step}",
        about=("access.visit", str(visit.pk)),
    )


def _visit_for_decision(actor: User, visit_id: uuid.UUID) -> Visit:
    visit = (
        Visit.objects.for_user(actor, Action.VIEW)
        .select_for_update()
        .select_related("site", "visitor", "host", "registered_by")
        .filter(pk=visit_id)
        .first()
    )
    if visit is None:
        raise NotFound("visit_not_found", _("No such visit."), detail={"visit": str(visit_id)})
    if visit.host_id != actor.pk and not user_can(
        actor, Action.APPROVE_ACCESS, visit.site.region_id
    ):
        raise PermissionDenied(
            "approval_not_allowed",
            _("Only the host or a commissioner may decide on this visit."),
            detail={"visit": str(visit_id)},
        )
    return visit


def approve_visit(*, actor: User, visit_id: uuid.UUID, now: dt.datetime | None = None) -> Visit:
    """The host or a commissioner lets the guest in. A commissioner's approval also covers the
    hours after closing; approving again adds that, and otherwise changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        visit = _visit_for_decision(actor, visit_id)
        commissioner = user_can(actor, Action.APPROVE_ACCESS, visit.site.region_id)
        facts = []
        if visit.state == VisitState.REQUESTED:
            if visit.planned_end <= now:
                raise Conflict(
                    "visit_not_pending",
                    _("This visit can no longer be decided: it is %(state)s.")
                    % {"state": VisitState.EXPIRED.label},
                    detail={"state": VisitState.EXPIRED},
                )
            visit.state = VisitState.APPROVED
            visit.decided_at = now
            visit.decided_by = actor
            facts.append(
                _ledger("visit.approved", visit, actor, visit.site, {"by_host": not commissioner})
            )
        elif visit.state not in (VisitState.APPROVED, VisitState.CHECKED_IN):
            raise Conflict(
                "visit_not_pending",
                _("This visit can no longer be decided: it is %(state)s.")
                % {"state": visit.get_state_display()},
                detail={"state": visit.state},
            )
        if commissioner and visit.after_hours_approved_at is None:
            visit.after_hours_approved_at = now
            visit.after_hours_approved_by = actor
            facts.append(_ledger("visit.after_hours_approved", visit, actor, visit.site, {}))
        if facts:
            visit.save()
            ledger.append_many(facts)
            _tell_gate(visit, "approved")
    return visit


def deny_visit(
    *, actor: User, visit_id: uuid.UUID, reason: str = "", now: dt.datetime | None = None
) -> Visit:
    """The host or a commissioner refuses the guest, saying why. Denying twice changes
    nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        visit = _visit_for_decision(actor, visit_id)
        if visit.state == VisitState.DENIED:
            return visit
        if visit.state not in PENDING_STATES:
            raise Conflict(
                "visit_not_pending",
                _("This visit can no longer be decided: it is %(state)s.")
                % {"state": visit.get_state_display()},
                detail={"state": visit.state},
            )
        visit.state = VisitState.DENIED
        visit.decided_at = now
        visit.decided_by = actor
        visit.deny_reason = reason.strip()[:300]
        visit.save()
        ledger.append_many(
            [_ledger("visit.denied", visit, actor, visit.site, {"reason": visit.deny_reason})]
        )
        _tell_gate(visit, "denied")
    return visit


# ---------------------------------------------------------------------------------------------
# Standing passes


def issue_pass(
    *,
    actor: User,
    person: PersonData,
    site_id: uuid.UUID,
    zone_ids: Sequence[uuid.UUID],
    kind: str,
    valid_until: dt.datetime,
    valid_from: dt.datetime | None = None,
    weekdays: str = "1234567",
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    officer: str = "",
    user_id: int | None = None,
    id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Created[StandingPass]:
    """A commissioner or Kapolres issues a standing pass (staff, guards) or a day pass (hired
    workers). The badge code is random; its QR makes a check-in one scan."""
    now = now or timezone.now()
    pass_id = id or uuid7()
    existing = StandingPass.objects.select_related("visitor").filter(pk=pass_id).first()
    if existing is not None:
        replay_or_conflict(
            existing,
            {
                "site_id": site_id,
                "issued_by_id": actor.pk,
                "kind": kind,
                "visitor.nik": person.nik.strip(),
            },
        )
        return Created(existing, created=False)
    site = _site_in_scope(actor, site_id, Action.APPROVE_ACCESS, "pass_not_allowed")
    if kind not in PassKind.values:
        raise InvalidInput(
            "pass_kind_unknown",
            _("Unknown kind of pass."),
            detail={"kind": kind, "allowed": list(PassKind.values)},
        )
    if officer and officer not in Officer.values:
        raise InvalidInput("officer_unknown", _("Unknown body."), detail={"officer": officer})
    if not _WEEKDAYS.match(weekdays) or len(set(weekdays)) != len(weekdays):
        raise InvalidInput(
            "pass_weekdays_invalid",
            _("Days are ISO weekday digits, 1 (Monday) to 7 (Sunday), e.g. 12345."),
            detail={"field": "weekdays"},
        )
    if (start_time is None) != (end_time is None) or (
        start_time is not None and start_time == end_time
    ):
        raise InvalidInput(
            "pass_hours_invalid",
            _("Give both the start and the end hour, or neither (all day)."),
            detail={"field": "start_time"},
        )
    start = valid_from or now
    if valid_until <= start or valid_until - start > MAX_PASS_LENGTH:
        raise InvalidInput(
            "pass_validity_invalid",
            _("A pass ends after it starts, and lasts at most 400 days."),
            detail={"field": "valid_until"},
        )
    zones = _zones_of(site, zone_ids)
    user = None
    if user_id is not None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None or not user_can(user, Action.VIEW, site.region_id):
            raise InvalidInput(
                "user_unknown",
                _("No such account among the people of this site's region."),
                detail={"user": user_id},
            )
        if not officer:
            officer = _officer_of(user)
    validate_nik(person.nik, today=timezone.localdate(now))
    with transaction.atomic():
        visitor, visitor_new = _upsert_visitor(person, now=now)
        if visitor.watchlisted:
            raise Watchlisted(
                "watchlisted",
                WATCHLISTED_MESSAGE,
                detail={"visitor": str(visitor.pk)},
            )
        updates = []
        if officer and visitor.officer != officer:
            visitor.officer = officer
            updates.append("officer")
        if user is not None and visitor.user_id != user.pk:
            if Visitor.objects.filter(user=user).exclude(pk=visitor.pk).exists():
                raise Conflict(
                    "user_has_other_record",
                    _("This account already belongs to another person's record."),
                )
            visitor.user = user
            updates.append("user")
        if updates:
            visitor.save(update_fields=[*updates, "updated_at"])
        issued = StandingPass.objects.create(
            id=pass_id,
            visitor=visitor,
            site=site,
            kind=kind,
            weekdays="".join(sorted(weekdays)),
            start_time=start_time,
            end_time=end_time,
            valid_from=start,
            valid_until=valid_until,
            badge_code=secrets.token_urlsafe(15),
            issued_by=actor,
        )
        issued.zones.set(zones)
        facts = []
        if visitor_new:
            facts.append(
                _ledger("visitor.registered", visitor, actor, site, _person_payload(visitor))
            )
        facts.append(
            _ledger(
                "pass.issued",
                issued,
                actor,
                site,
                {
                    **_person_payload(visitor),
                    "kind": kind,
                    "officer": visitor.officer,
                    "zones": sorted(str(z.pk) for z in zones),
                    "weekdays": issued.weekdays,
                    "hours": [
                        start_time.isoformat() if start_time else None,
                        end_time.isoformat() if end_time else None,
                    ],
                    "valid_from": start.isoformat(),
                    "valid_until": valid_until.isoformat(),
                },
            )
        )
        ledger.append_many(facts)
    return Created(issued, created=True)


def _officer_of(user: User) -> str:
    kinds = set(
        Membership.objects.filter(user=user, active=True).values_list(
            "unit__agency__kind", flat=True
        )
    )
    for agency in (AgencyKind.KPU, AgencyKind.POLRI, AgencyKind.BAWASLU):
        if agency in kinds:
            return _AGENCY_OFFICER[agency]
    return ""


def revoke_pass(*, actor: User, pass_id: uuid.UUID, now: dt.datetime | None = None) -> StandingPass:
    now = now or timezone.now()
    with transaction.atomic():
        issued = (
            StandingPass.objects.for_user(actor, Action.VIEW)
            .select_for_update()
            .select_related("site", "visitor")
            .filter(pk=pass_id)
            .first()
        )
        if issued is None:
            raise NotFound("pass_not_found", _("No such pass."))
        if not user_can(actor, Action.APPROVE_ACCESS, issued.site.region_id):
            raise PermissionDenied("pass_not_allowed", _("You may not do this at this site."))
        if issued.revoked_at is not None:
            return issued
        issued.revoked_at = now
        issued.revoked_by = actor
        issued.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        ledger.append_many(
            [_ledger("pass.revoked", issued, actor, issued.site, _person_payload(issued.visitor))]
        )
    return issued


def pass_refusal(issued: StandingPass, at: dt.datetime) -> str | None:
    """Why this pass does not open the gate at ``at`` (a reason code), or None."""
    if issued.revoked_at is not None and issued.revoked_at <= at:
        return "revoked"
    if at < issued.valid_from or at >= issued.valid_until:
        return "outside_validity"
    local = local_time(issued.site, at)
    if issued.start_time is not None and issued.end_time is not None:
        now_t = local.time()
        if issued.start_time < issued.end_time:
            inside = issued.start_time <= now_t < issued.end_time
            day = local.isoweekday()
        else:  # a night shift: 19:00-07:00 belongs to the day it started
            inside = now_t >= issued.start_time or now_t < issued.end_time
            day = (
                local.isoweekday()
                if now_t >= issued.start_time
                else (local - dt.timedelta(days=1)).isoweekday()
            )
        if not inside:
            return "outside_hours"
    else:
        day = local.isoweekday()
    if str(day) not in issued.weekdays:
        return "outside_days"
    return None


def _pass_ends(issued: StandingPass, at: dt.datetime) -> dt.datetime:
    """When the holder is expected out: the end of today's hours, or the end of validity."""
    if issued.end_time is None:
        return issued.valid_until
    local = local_time(issued.site, at)
    end = local.replace(
        hour=issued.end_time.hour, minute=issued.end_time.minute, second=0, microsecond=0
    )
    if end <= local:
        end += dt.timedelta(days=1)
    return min(end, issued.valid_until)


def update_rules(
    *,
    actor: User,
    site_id: uuid.UUID,
    two_person_rule: bool,
    after_hours_start: dt.time,
    after_hours_end: dt.time,
    max_per_zone: int | None,
) -> SiteRules:
    """A commissioner or Kapolres sets the site's access rules."""
    site = _site_in_scope(actor, site_id, Action.APPROVE_ACCESS, "rules_not_allowed")
    if max_per_zone is not None and max_per_zone < 1:
        raise InvalidInput(
            "max_per_zone_invalid",
            _("The most people in one zone is at least 1 (or empty: no limit)."),
            detail={"field": "max_per_zone"},
        )
    with transaction.atomic():
        rules, _created = SiteRules.objects.select_for_update().get_or_create(site=site)
        rules.two_person_rule = two_person_rule
        rules.after_hours_start = after_hours_start
        rules.after_hours_end = after_hours_end
        rules.max_per_zone = max_per_zone
        rules.updated_by = actor
        rules.save()
        ledger.append_many(
            [
                _ledger(
                    "rules.updated",
                    site,
                    actor,
                    site,
                    {
                        "two_person_rule": two_person_rule,
                        "after_hours": [after_hours_start.isoformat(), after_hours_end.isoformat()],
                        "max_per_zone": max_per_zone,
                    },
                )
            ]
        )
    return rules


# ---------------------------------------------------------------------------------------------
# The gate: in and out


def _replay_event(
    existing: GateEvent,
    kind: str,
    actor: User,
    *,
    visit_id: uuid.UUID | None = None,
    badge: str | None = None,
    visitor_id: uuid.UUID | None = None,
) -> Created[GateEvent]:
    """The phone sent the same event again: answer as before. The same id for another person
    or another way in is an id reused."""
    wanted: dict[str, Any] = {"kind": kind, "guard_id": actor.pk}
    if visit_id is not None:
        wanted["visit_id"] = visit_id
    if visitor_id is not None:
        wanted["visitor_id"] = visitor_id
    code = (badge or "").strip().removeprefix("SIAGA-PASS:")
    if code:
        wanted["standing_pass.badge_code"] = code
    replay_or_conflict(existing, wanted)
    return Created(existing, created=False)


def _gate_site(actor: User, site: Site) -> None:
    if not user_can(actor, Action.OPERATE_GATE, site.region_id):
        raise PermissionDenied("gate_out_of_scope", _("You do not guard this site's gate."))


_CREDENTIAL_COLUMNS: dict[str, tuple[Columns, Columns, Columns, Columns]] = {}


def _credential_columns(model: type[Visit] | type[StandingPass]) -> tuple[Columns, ...]:
    name = model.__name__
    if name not in _CREDENTIAL_COLUMNS:
        _CREDENTIAL_COLUMNS[name] = (
            Columns(model, "c"),
            Columns(Visitor, "v", leave_out=["photo"]),
            Columns(Site, "s"),
            Columns(SiteRules, "r"),
        )
    return _CREDENTIAL_COLUMNS[name]


def _read_credential(
    model: type[Visit] | type[StandingPass], column: str, value: Any
) -> Visit | StandingPass | None:
    """The visit or pass with its person (less the photo), site and the site's rules, in one
    plain query: every scan at the gate reads them, and the ORM's compiling of this join cost
    more than running it."""
    own, person, place, rules = _credential_columns(model)
    key = next(f for f in model._meta.concrete_fields if f.name == column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {own.sql()}, {person.sql()}, {place.sql()}, {rules.sql()} "  # noqa: S608
            f'FROM "{model._meta.db_table}" c '
            f'JOIN "{Visitor._meta.db_table}" v ON v."id" = c."visitor_id" '
            f'JOIN "{Site._meta.db_table}" s ON s."id" = c."site_id" '
            f'LEFT JOIN "{SiteRules._meta.db_table}" r ON r."site_id" = s."id" '
            f'WHERE c."{key.column}" = %s',
            [key.get_db_prep_value(value, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    credential = own.build(row)
    visitor = person.build(row, len(own))
    site = place.build(row, len(own) + len(person))
    site_rules = rules.build(row, len(own) + len(person) + len(place))
    assert isinstance(credential, (Visit, StandingPass))
    assert isinstance(visitor, Visitor) and isinstance(site, Site)
    credential.visitor = visitor
    credential.site = site
    # Rules or none, the site knows: rules_of() asks no more.
    SiteRules._meta.get_field("site").remote_field.set_cached_value(site, site_rules)
    if isinstance(site_rules, SiteRules):
        site_rules.site = site
    return credential


def _credential(
    visit_id: uuid.UUID | None, badge: str | None
) -> tuple[Visit | None, StandingPass | None]:
    if (visit_id is None) == (not badge):
        raise InvalidInput(
            "credential_required",
            _("Check in with either a visit or a badge, not both."),
            detail={"fields": ["visit", "badge"]},
        )
    if visit_id is not None:
        visit = _read_credential(Visit, "id", visit_id)
        if visit is None:
            raise NotFound("visit_not_found", _("No such visit."), detail={"visit": str(visit_id)})
        assert isinstance(visit, Visit)
        return visit, None
    code = (badge or "").strip().removeprefix("SIAGA-PASS:")
    issued = _read_credential(StandingPass, "badge_code", code)
    if issued is None:
        raise NotFound("badge_unknown", _("This badge is not known."), detail={"badge": code[:4]})
    assert isinstance(issued, StandingPass)
    return None, issued


def _allowed_zones(visit: Visit | None, issued: StandingPass | None) -> set[uuid.UUID]:
    if visit is not None:
        return {z.pk for z in visit.zones.all()}
    assert issued is not None
    return {z.pk for z in issued.zones.all()}


def _check_visit(visit: Visit, site: Site, now: dt.datetime) -> None:
    state = visit.state
    if state == VisitState.APPROVED and now >= visit.planned_end:
        state = VisitState.EXPIRED
    if state not in (VisitState.APPROVED, VisitState.CHECKED_IN):
        raise Conflict(
            "visit_not_approved",
            _("This visit is not approved for entry: it is %(state)s.")
            % {"state": VisitState(state).label},
            detail={"visit": str(visit.pk), "state": state},
        )
    if now < visit.planned_start - EARLY_ARRIVAL:
        raise Conflict(
            "visit_not_yet",
            _("This visit starts later; the guest may enter from two hours before."),
            detail={"planned_start": visit.planned_start.isoformat()},
        )
    rules = rules_of(site)
    if rules.is_after_hours(local_time(site, now).time()) and visit.after_hours_approved_at is None:
        raise Conflict(
            "after_hours",
            _("It is after hours: entry needs a commissioner's approval of this visit."),
            detail={
                "visit": str(visit.pk),
                "after_hours": [
                    rules.after_hours_start.isoformat(timespec="minutes"),
                    rules.after_hours_end.isoformat(timespec="minutes"),
                ],
            },
        )


def _check_pass(issued: StandingPass, now: dt.datetime) -> None:
    reason = pass_refusal(issued, now)
    if reason is not None:
        raise Conflict(
            "pass_not_valid",
            _("This pass does not open the gate now."),
            detail={"pass": str(issued.pk), "reason": reason},
        )


def _companion_entries(
    companion_ids: Sequence[uuid.UUID],
    site: Site,
    zone: Zone,
    entrant: Visitor,
    event_id: uuid.UUID,
) -> list[_Entry]:
    wanted = [c for c in dict.fromkeys(companion_ids) if c != entrant.pk]
    if not wanted:
        return []
    presences = {
        p.visitor_id: p
        for p in Presence.objects.select_for_update(of=("self",))
        .select_related("visitor", "visit", "standing_pass", "zone")
        .filter(visitor_id__in=wanted)
    }
    entries = []
    for companion_id in wanted:
        presence = presences.get(companion_id)
        if presence is None or presence.site_id != site.pk:
            raise Conflict(
                "companion_not_inside",
                _("A companion must already be inside this site (checked in at the gate)."),
                detail={"companion": str(companion_id)},
            )
        allowed = _allowed_zones(presence.visit, presence.standing_pass)
        if zone.pk not in allowed:
            raise Conflict(
                "zone_not_allowed",
                _("%(name)s may not enter %(zone)s.")
                % {"name": presence.visitor.name, "zone": zone.name},
                detail={"companion": str(companion_id), "zone": str(zone.pk)},
            )
        entries.append(
            _Entry(
                visitor=presence.visitor,
                visit=presence.visit,
                standing_pass=presence.standing_pass,
                presence=presence,
                event_id=uuid.uuid5(event_id, str(companion_id)),
            )
        )
    return entries


def _check_zone_rules(rules: SiteRules, zone: Zone | None, movers: list[_Entry]) -> None:
    if zone is None:
        return
    two_persons = rules.two_person_rule and needs_two_persons(zone)
    if rules.max_per_zone is None and not two_persons:
        return
    # Who else is in the zone, counted per body: one short query however many are inside.
    counts = dict(
        Presence.objects.filter(zone=zone)
        .exclude(visitor_id__in=[m.visitor.pk for m in movers])
        .values_list("visitor__officer")
        .annotate(n=Count("pk"))
        .values_list("visitor__officer", "n")
    )
    inside = sum(counts.values())
    if rules.max_per_zone is not None and inside + len(movers) > rules.max_per_zone:
        raise Conflict(
            "zone_full",
            _("%(zone)s already holds the most people allowed (%(max)s).")
            % {"zone": zone.name, "max": rules.max_per_zone},
            detail={"zone": str(zone.pk), "inside": inside, "max": rules.max_per_zone},
        )
    if two_persons:
        officers = set(counts) | {m.visitor.officer for m in movers}
        if inside + len(movers) < 2 or not officers & _KPU_SIDE or not officers & _GUARD_SIDE:
            raise Conflict(
                "two_person_rule",
                _(
                    "Nobody enters %(zone)s alone: a KPU officer and a Polri or Bawaslu officer "
                    "must be inside or go in together."
                )
                % {"zone": zone.name},
                detail={
                    "zone": str(zone.pk),
                    "kpu_present": bool(officers & _KPU_SIDE),
                    "polri_or_bawaslu_present": bool(officers & _GUARD_SIDE),
                },
            )


def _watch_zone(site: Site, zone: Zone | None, actor: User, now: dt.datetime) -> None:
    """After people left a storage zone: if guests or workers are still inside without a KPU
    officer and a Polri or Bawaslu officer, an alarm says the zone is unguarded (the gate
    cannot stop an officer from walking out). It clears when the pair is back or only officers
    remain."""
    if zone is None or not needs_two_persons(zone) or not rules_of(site).two_person_rule:
        return
    officers = list(Presence.objects.filter(zone=zone).values_list("visitor__officer", flat=True))
    present = set(officers)
    key = f"unguarded:{zone.pk}"
    # Officers leaving one by one are briefly alone; guests or workers left without the pair
    # are the breach.
    if "" in present and (not present & _KPU_SIDE or not present & _GUARD_SIDE):
        alarms.raise_alarm(
            source="access",
            key=key,
            kind="unguarded_zone",
            site=site,
            zone=zone,
            severity="major",
            message=_g(
                "%(zone)s: %(count)s inside without both a KPU officer and a Polri or Bawaslu "
                "officer"
            )
            % {"zone": zone.name, "count": len(officers)},
            actor=actor,
            now=now,
        )
    else:
        alarms.clear_alarm(source="access", key=key, actor=actor, now=now)


def _zone_for(
    visit: Visit | None, issued: StandingPass | None, site: Site, zone_id: uuid.UUID | None
) -> tuple[Zone | None, bool]:
    """The zone named, and whether the visit or pass allows it: one query when it does."""
    if zone_id is None:
        return None, True
    credential = visit or issued
    assert credential is not None
    # One plain query: is the zone among the credential's, and what is it.
    through = (Visit if visit is not None else StandingPass).zones.through
    owner = "visit_id" if visit is not None else "standingpass_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT z."name", z."kind", z."restricted" FROM "{Zone._meta.db_table}" z '  # noqa: S608
            f'JOIN "{through._meta.db_table}" t ON t."zone_id" = z."id" '
            f'WHERE t."{owner}" = %s AND z."id" = %s',
            [
                Visit._meta.pk.get_db_prep_value(credential.pk, connection),
                Zone._meta.pk.get_db_prep_value(zone_id, connection),
            ],
        )
        row = cursor.fetchone()
    if row is not None:
        name, kind, restricted = row
        return Zone(id=zone_id, site=site, name=name, kind=kind, restricted=bool(restricted)), True
    zone = Zone.objects.filter(pk=zone_id, site=site).first()
    if zone is None:
        raise InvalidInput(
            "zone_unknown", _("No such zone at this site."), detail={"zone": str(zone_id)}
        )
    return zone, False


def _has_row(model: type[Any], column: str, value: Any, *, lock: bool = False) -> bool:
    """Is there a row with this key? In plain SQL: on the gate's hot path every check-in asks
    twice, and the answer is almost always no."""
    field = model._meta.get_field(column)
    sql = f'SELECT 1 FROM "{model._meta.db_table}" WHERE "{field.column}" = %s'  # noqa: S608
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_value(value, connection)])
        return cursor.fetchone() is not None


def _lock_person(visitor_id: uuid.UUID) -> None:
    """One person at a time. SQLite's writers are serialised already (BEGIN IMMEDIATE); on
    PostgreSQL the person's row is the lock."""
    if connection.features.has_select_for_update:
        Visitor.objects.select_for_update().filter(pk=visitor_id).values_list("pk").first()


def check_in(
    *,
    actor: User,
    id: uuid.UUID,
    visit_id: uuid.UUID | None = None,
    badge: str | None = None,
    zone_id: uuid.UUID | None = None,
    companion_ids: Sequence[uuid.UUID] = (),
    items: Sequence[Item] = (),
    vehicle_plate: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> Created[GateEvent]:
    """The guard lets a person in (through the gate, or on into a zone of the site), under the
    site's rules. Companions already inside go into the zone together with them. Idempotent on
    ``id``: the same check-in sent again is the same event.

    What can be checked by reading is checked before the transaction, so that the write lock
    (SQLite takes it at BEGIN) is held only for what must be atomic: who is inside, the zone's
    rules, the writes and the ledger."""
    now = now or timezone.now()
    if _has_row(GateEvent, "id", id):
        existing = GateEvent.objects.select_related("standing_pass").get(pk=id)
        return _replay_event(
            existing, GateEventKind.CHECK_IN, actor, visit_id=visit_id, badge=badge
        )
    cleaned_items = _check_items(items)
    plate = normalise_plate(vehicle_plate)
    visit, issued = _credential(visit_id, badge)
    credential = visit or issued
    assert credential is not None
    site = credential.site
    _gate_site(actor, site)
    zone, allowed = _zone_for(visit, issued, site, zone_id)
    visitor = credential.visitor
    if visitor.watchlisted:
        _refuse_watchlisted(actor, visitor, site, zone, now, "check_in")
    if visit is not None:
        _check_visit(visit, site, now)
    else:
        assert issued is not None
        _check_pass(issued, now)
    if not allowed:
        assert zone is not None
        raise Conflict(
            "zone_not_allowed",
            _("%(name)s may not enter %(zone)s.") % {"name": visitor.name, "zone": zone.name},
            detail={"zone": str(zone.pk)},
        )
    if companion_ids and zone is None:
        raise InvalidInput(
            "companions_need_zone",
            _("Companions go with someone into a zone; name the zone."),
            detail={"field": "companions"},
        )
    with transaction.atomic():
        _lock_person(visitor.pk)
        if visit is not None:
            # Decided again since it was read (denied, say)? The fresh state counts.
            visit = Visit.objects.select_related("site__access_rules", "visitor").get(pk=visit.pk)
            _check_visit(visit, site, now)
        presence = None
        if _has_row(Presence, "visitor", visitor.pk, lock=True):
            presence = Presence.objects.select_related("zone").get(visitor=visitor)
        if presence is not None and presence.zone_id == (zone.pk if zone else None):
            # A resend that raced its first copy finds the person already in: the same event.
            raced = GateEvent.objects.select_related("standing_pass").filter(pk=id).first()
            if raced is not None:
                return _replay_event(
                    raced, GateEventKind.CHECK_IN, actor, visit_id=visit_id, badge=badge
                )
            raise Conflict(
                "already_inside",
                _("This person is already inside here."),
                detail={"visitor": str(visitor.pk)},
            )
        if presence is not None and presence.site_id != site.pk:
            raise Conflict(
                "inside_elsewhere",
                _("This person is checked in at another site; check them out there first."),
                detail={"site": str(presence.site_id)},
            )
        movers = [_Entry(visitor, visit, issued, presence, id)]
        if zone is not None and companion_ids:
            movers += _companion_entries(companion_ids, site, zone, visitor, id)
        _check_zone_rules(rules_of(site), zone, movers)
        names = [
            {"id": str(m.visitor.pk), "name": m.visitor.name, "officer": m.visitor.officer}
            for m in movers
        ]
        for mover in movers:
            mover.companions = [n for n in names if n["id"] != str(mover.visitor.pk)]
        events = _enter(actor, site, zone, movers, cleaned_items, plate, note, now)
    return Created(events[0], created=True)


def _enter(
    actor: User,
    site: Site,
    zone: Zone | None,
    movers: list[_Entry],
    items: list[dict[str, Any]],
    plate: str,
    note: str,
    now: dt.datetime,
) -> list[GateEvent]:
    left = {
        m.presence.zone
        for m in movers
        if m.presence is not None and m.presence.zone_id not in (None, zone.pk if zone else None)
    }
    # The ledger first: each event is then inserted already knowing its entry.
    facts = []
    for n, mover in enumerate(movers):
        from_zone = mover.presence.zone_id if mover.presence else None
        facts.append(
            _ledger(
                "gate.check_in",
                ("access.gateevent", str(mover.event_id)),
                actor,
                site,
                {
                    **_person_payload(mover.visitor),
                    "zone": str(zone.pk) if zone else None,
                    "from_zone": str(from_zone) if from_zone else None,
                    "visit": str(mover.visit.pk) if mover.visit else None,
                    "pass": str(mover.standing_pass.pk) if mover.standing_pass else None,
                    "items": items if n == 0 else [],
                    "vehicle_plate": plate if n == 0 else "",
                    "companions": [c["id"] for c in mover.companions],
                    "at": now.isoformat(),
                },
            )
        )
    entries = ledger.append_many(facts)
    events = []
    for n, (mover, entry) in enumerate(zip(movers, entries, strict=True)):
        entrant = n == 0
        event = GateEvent.objects.create(
            id=mover.event_id,
            kind=GateEventKind.CHECK_IN,
            site=site,
            zone=zone,
            from_zone=mover.presence.zone if mover.presence else None,
            visitor=mover.visitor,
            visit=mover.visit,
            standing_pass=mover.standing_pass,
            guard=actor,
            at=now,
            badge=(
                mover.visit.reference if mover.visit else mover.standing_pass.reference  # type: ignore[union-attr]
            ),
            items=items if entrant else [],
            vehicle_plate=plate if entrant else "",
            companions=mover.companions,
            note=note.strip()[:500] if entrant else "",
            ledger_seq=entry.seq,
        )
        events.append(event)
        if mover.presence is None:
            expected = (
                mover.visit.planned_end if mover.visit else _pass_ends(mover.standing_pass, now)  # type: ignore[arg-type]
            )
            Presence.objects.create(
                visitor=mover.visitor,
                site=site,
                zone=zone,
                visit=mover.visit,
                standing_pass=mover.standing_pass,
                entered_at=now,
                zone_since=now,
                expected_out=expected,
                last_event=event,
            )
        else:
            mover.presence.zone = zone
            mover.presence.zone_since = now
            mover.presence.last_event = event
            mover.presence.save(update_fields=["zone", "zone_since", "last_event"])
        if mover.visit is not None and mover.visit.state != VisitState.CHECKED_IN:
            mover.visit.state = VisitState.CHECKED_IN
            mover.visit.checked_in_at = now
            mover.visit.save(update_fields=["state", "checked_in_at", "updated_at"])
    for zone_left in left:
        _watch_zone(site, zone_left, actor, now)
    _watch_zone(site, zone, actor, now)
    return events


def check_out(
    *,
    actor: User,
    id: uuid.UUID,
    visitor_id: uuid.UUID | None = None,
    visit_id: uuid.UUID | None = None,
    badge: str | None = None,
    items: Sequence[Item] = (),
    note: str = "",
    now: dt.datetime | None = None,
) -> Created[GateEvent]:
    """The person leaves the site. Idempotent on ``id``; someone not inside is ``not_inside``."""
    now = now or timezone.now()
    if _has_row(GateEvent, "id", id):
        existing = GateEvent.objects.select_related("standing_pass").get(pk=id)
        return _replay_event(
            existing,
            GateEventKind.CHECK_OUT,
            actor,
            visit_id=visit_id,
            badge=badge,
            visitor_id=visitor_id,
        )
    cleaned_items = _check_items(items)
    given = [x for x in (visitor_id, visit_id, badge) if x]
    if len(given) != 1:
        raise InvalidInput(
            "credential_required",
            _("Name the person leaving: a visitor, a visit or a badge."),
            detail={"fields": ["visitor", "visit", "badge"]},
        )
    site: Site | None = None
    if visitor_id is None:
        visit, issued = _credential(visit_id, badge)
        credential = visit or issued
        assert credential is not None
        visitor_id = credential.visitor_id
        site = credential.site
        _gate_site(actor, site)
    elif not Visitor.objects.filter(pk=visitor_id).exists():
        raise NotFound("visitor_not_found", _("No such visitor."))
    with transaction.atomic():
        _lock_person(visitor_id)
        presences = Presence.objects.select_related(
            "site", "visitor", "visit", "zone", "last_event"
        ).defer("visitor__photo")
        if connection.features.has_select_for_update:
            presences = presences.select_for_update(of=("self",))
        presence = presences.filter(visitor_id=visitor_id).first()
        if presence is None or (site is not None and presence.site_id != site.pk):
            raced = GateEvent.objects.select_related("standing_pass").filter(pk=id).first()
            if raced is not None:
                return _replay_event(
                    raced,
                    GateEventKind.CHECK_OUT,
                    actor,
                    visit_id=visit_id,
                    badge=badge,
                    visitor_id=visitor_id,
                )
            raise Conflict(
                "not_inside",
                _("This person is not inside; there is nothing to check out."),
                detail={"visitor": str(visitor_id)},
            )
        site = presence.site
        _gate_site(actor, site)
        person = presence.visitor
        [entry] = ledger.append_many(
            [
                _ledger(
                    "gate.check_out",
                    ("access.gateevent", str(id)),
                    actor,
                    site,
                    {
                        **_person_payload(person),
                        "from_zone": str(presence.zone_id) if presence.zone_id else None,
                        "visit": str(presence.visit_id) if presence.visit_id else None,
                        "items": cleaned_items,
                        "entered_at": presence.entered_at.isoformat(),
                        "at": now.isoformat(),
                    },
                )
            ]
        )
        event = GateEvent.objects.create(
            id=id,
            kind=GateEventKind.CHECK_OUT,
            site=site,
            zone=None,
            from_zone=presence.zone,
            visitor=person,
            visit=presence.visit,
            standing_pass_id=presence.standing_pass_id,
            guard=actor,
            at=now,
            badge=presence.last_event.badge,
            items=cleaned_items,
            note=note.strip()[:500],
            ledger_seq=entry.seq,
        )
        if presence.visit is not None:
            presence.visit.state = VisitState.CHECKED_OUT
            presence.visit.checked_out_at = now
            presence.visit.save(update_fields=["state", "checked_out_at", "updated_at"])
        overstayed = presence.overstay_alarmed
        zone_left = presence.zone
        presence.delete()
        if overstayed:
            alarms.clear_alarm(source="access", key=f"overstay:{person.pk}", actor=actor, now=now)
        _watch_zone(site, zone_left, actor, now)
    return Created(event, created=True)


# ---------------------------------------------------------------------------------------------
# The sweep: expired visits, overstays


def expire_visits(now: dt.datetime | None = None, *, limit: int = 500) -> int:
    """Visits never used before their planned end expire (requested or approved)."""
    now = now or timezone.now()
    due = list(
        Visit.objects.filter(state__in=PENDING_STATES, planned_end__lte=now)
        .select_related("site")
        .order_by("planned_end")[:limit]
    )
    done = 0
    for visit in due:
        with transaction.atomic():
            updated = Visit.objects.filter(pk=visit.pk, state__in=PENDING_STATES).update(
                state=VisitState.EXPIRED, updated_at=now
            )
            if updated:
                ledger.append_many(
                    [_ledger("visit.expired", visit, None, visit.site, {"from": visit.state})]
                )
                done += 1
    return done


def flag_overstays(now: dt.datetime | None = None, *, limit: int = 200) -> int:
    """Everyone still inside past the time they were expected out raises an overstay alarm
    (once; the alarm reminds on its own and clears at check-out)."""
    now = now or timezone.now()
    due = list(
        Presence.objects.filter(overstay_alarmed=False, expected_out__lt=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    done = 0
    for visitor_id in due:
        with transaction.atomic():
            presence = (
                Presence.objects.select_for_update(of=("self",))
                .select_related("site", "zone", "visitor")
                .filter(pk=visitor_id, overstay_alarmed=False, expected_out__lt=now)
                .first()
            )
            if presence is None:
                continue
            late = now - presence.expected_out  # type: ignore[operator]
            alarms.raise_alarm(
                source="access",
                key=f"overstay:{presence.visitor_id}",
                kind="overstay",
                site=presence.site,
                zone=presence.zone,
                severity="warning",
                message=_g("%(name)s is still inside, %(minutes)s minutes past the planned end")
                % {"name": presence.visitor.name, "minutes": int(late.total_seconds() // 60)},
                evidence=[
                    {
                        "type": "visitor",
                        "id": str(presence.visitor_id),
                        "label": presence.visitor.name,
                    }
                ],
                now=now,
            )
            presence.overstay_alarmed = True
            presence.save(update_fields=["overstay_alarmed"])
            done += 1
    return done


def record_log_export(
    *, actor: User, filters: dict[str, str], rows: int, site: Site | None = None
) -> None:
    """A download of the gate log (names, masked NIKs) leaves its trace in the ledger."""
    with transaction.atomic():
        ledger.append(
            kind="access.log.exported",
            subject=("access.gateevent", "export"),
            actor=actor,
            unit=unit_covering(actor, site.region_id) if site else "",
            region=site.region_id if site else "",
            payload={"filters": filters, "rows": rows},
        )


def sweep(now: dt.datetime | None = None) -> tuple[int, int]:
    return expire_visits(now), flag_overstays(now)


def approvals_waiting(user: User) -> QuerySet[Visit]:
    """Visits waiting for this person's decision: requests they host or may approve, and, for
    approvers, approved visits still waiting for the after-hours approval only they can give."""
    visits = Visit.objects.for_user(user, Action.VIEW)
    requested = Q(state=VisitState.REQUESTED)
    after_hours = Q(
        state=VisitState.APPROVED, after_hours=True, after_hours_approved_at__isnull=True
    )
    roots = scope_roots(user, Action.APPROVE_ACCESS)
    if roots is None:
        return visits.filter(requested | after_hours)
    if not roots:
        return visits.filter(requested, host=user)
    approver = subtree_q("site__region__code", sorted(roots))
    return visits.filter((requested & (Q(host=user) | approver)) | (after_hours & approver))

"""The gate: in and out, under the site's rules."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.access.choices import (
    GateEventKind,
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
from siaga.access.services.common import (
    _GUARD_SIDE,
    _KPU_SIDE,
    EARLY_ARRIVAL,
    Item,
    _check_items,
    _Entry,
    _ledger,
    local_time,
    needs_two_persons,
    normalise_plate,
    replay_or_refuse,
    rules_of,
)
from siaga.access.services.passes import (
    _pass_ends,
    pass_refusal,
)
from siaga.access.services.visitors import (
    _refuse_watchlisted,
    is_listed,
)
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms import services as alarms
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created
from siaga.core.rows import Columns
from siaga.ledger import services as ledger
from siaga.sites.models import Site, Zone

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
    replay_or_refuse(existing, wanted)
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
            # The phone is in the gate's answer (VisitorOut): read here, not by a second query.
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
            message=i18n.text(
                gettext_noop(
                    "%(zone)s: %(count)s inside without both a KPU officer and a Polri or "
                    "Bawaslu officer"
                ),
                zone=zone.name,
                count=len(officers),
            ),
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
    # A listing in any region holds at every gate.
    if visitor.watchlisted or is_listed(visitor.person_id):
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
                    "zone": str(zone.pk) if zone else None,
                    "from_zone": str(from_zone) if from_zone else None,
                    "visit": str(mover.visit.pk) if mover.visit else None,
                    "pass": str(mover.standing_pass.pk) if mover.standing_pass else None,
                    "items": items if n == 0 else [],
                    "vehicle_plate": plate if n == 0 else "",
                    "companions": [c["id"] for c in mover.companions],
                    "at": now.isoformat(),
                },
                about=mover.visitor,
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
        ).defer("visitor__photo", "visitor__phone")
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
                        "from_zone": str(presence.zone_id) if presence.zone_id else None,
                        "visit": str(presence.visit_id) if presence.visit_id else None,
                        "items": cleaned_items,
                        "entered_at": presence.entered_at.isoformat(),
                        "at": now.isoformat(),
                    },
                    about=person,
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

"""Visits: registration, approval, refusal."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.access.choices import (
    PENDING_STATES,
    Purpose,
    VisitState,
)
from siaga.access.models import (
    SiteRules,
    Visit,
    Visitor,
    nik_lookup_hash,
    record_region,
)
from siaga.access.services.common import (
    MAX_VISIT_LENGTH,
    PersonData,
    _ledger,
    _site_in_scope,
    _zones_of,
    local_time,
    normalise_plate,
    replay_or_refuse,
    rules_of,
)
from siaga.access.services.visitors import (
    _refuse_watchlisted,
    _upsert_visitor,
)
from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created
from siaga.core.ids import uuid7
from siaga.ledger import services as ledger
from siaga.notify import services as notify
from siaga.regions.codes import covering_codes
from siaga.sites.models import Site

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
    confirm_record_change: bool = True,
) -> Created[Visit]:
    """A host pre-registers a guest (approved at once: the host is the approver), or the guard
    registers a walk-in at the gate (waiting for the host or a commissioner). A commissioner's
    registration also approves the hours after closing. Idempotent on ``id``.

    A name or organisation that differs from what the region's record holds changes the record
    (its old value kept in ``VisitorChange``; past visits keep theirs). With
    ``confirm_record_change=False`` such a change is refused (``visitor_record_differs``)
    until the caller confirms it: the gate's page asks the guard first."""
    now = now or timezone.now()
    visit_id = id or uuid7()
    existing = Visit.objects.filter(pk=visit_id).select_related("visitor__person").first()
    if existing is not None:
        replay_or_refuse(
            existing,
            {
                "site_id": site_id,
                "registered_by_id": actor.pk,
                "purpose": purpose,
                # Compared as keyed hashes: the refusal says only that the request differs.
                "visitor.person.nik_hash": nik_lookup_hash(person.nik.strip()),
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
    region = record_region(site.region_id)
    if Visitor.objects.by_nik(nik).filter(watchlisted=True).exists():
        # Listed somewhere: refused here, named by what this region knows or was told.
        local = Visitor.objects.by_nik(nik).filter(region=region).first()
        _refuse_watchlisted(
            actor, local, site, zones[0] if zones else None, now, "register", person=person
        )
    if not confirm_record_change:
        _refuse_unconfirmed_change(person, nik=nik, region=region)
    rules = rules_of(site)
    approver = not walk_in and (
        host == actor or user_can(actor, Action.APPROVE_ACCESS, site.region_id)
    )
    after_hours = _after_hours_in(rules, site, start, planned_end)
    commissioner = user_can(actor, Action.APPROVE_ACCESS, site.region_id)
    with transaction.atomic():
        visitor, visitor_new = _upsert_visitor(
            person, region=region, now=now, actor=actor, via="visit"
        )
        try:
            with transaction.atomic():
                visit = Visit.objects.create(
                    id=visit_id,
                    visitor=visitor,
                    visitor_name=visitor.name,
                    visitor_organisation=visitor.organisation,
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
            facts.append(_ledger("visitor.registered", visitor, actor, site, {}, about=visitor))
        facts.append(
            _ledger(
                "visit.registered",
                visit,
                actor,
                site,
                {
                    "zones": sorted(str(z.pk) for z in zones),
                    "purpose": purpose,
                    "host": host.username,
                    "planned_start": start.isoformat(),
                    "planned_end": planned_end.isoformat(),
                    "walk_in": walk_in,
                    "state": visit.state,
                    "after_hours_approved": visit.after_hours_approved_at is not None,
                },
                about=visitor,
            )
        )
        ledger.append_many(facts)
        if visit.state == VisitState.REQUESTED:
            _ask_for_approval(visit, after_hours=after_hours)
    return Created(visit, created=True)


def _refuse_unconfirmed_change(person: PersonData, *, nik: str, region: str) -> None:
    known = Visitor.objects.by_nik(nik).filter(region=region).first()
    if known is None:
        return
    typed = {"name": person.name.strip()[:150], "organisation": person.organisation.strip()[:150]}
    differs = [attr for attr, value in typed.items() if value and value != getattr(known, attr)]
    if differs:
        # Names the fields only: the record's values are shown through the recorded look-up.
        raise Conflict(
            "visitor_record_differs",
            _(
                "This NIK is known here under another name or organisation. Check the KTP, "
                "then confirm the correction or keep what the record holds."
            ),
            detail={"field": differs[0], "fields": differs},
        )


MISSING_DECISION = "decision"
MISSING_AFTER_HOURS = "after_hours"
MISSING_AFTER_HOURS_LATER = "after_hours_later"


def approvals_missing(visit: Visit, *, now: dt.datetime | None = None) -> list[str]:
    """What the visit still lacks: ``decision`` (the host's or an approver's),
    ``after_hours`` (it is after hours now and no commissioner or Kapolres has approved: the
    gate refuses entry) and ``after_hours_later`` (the window reaches after hours, entry is
    allowed now but not then). Empty once nothing is missing; nothing for a visit that is
    over, denied or expired."""
    now = now or timezone.now()
    if visit.state not in (*PENDING_STATES, VisitState.CHECKED_IN) or visit.planned_end <= now:
        return []
    missing = [MISSING_DECISION] if visit.state == VisitState.REQUESTED else []
    if visit.after_hours_approved_at is None:
        if rules_of(visit.site).is_after_hours(local_time(visit.site, now).time()):
            missing.append(MISSING_AFTER_HOURS)
        elif visit.after_hours:
            missing.append(MISSING_AFTER_HOURS_LATER)
    return missing


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
    # Trees (siaga.core.i18n): each person reads it in their own language.
    title = i18n.text(
        gettext_noop("[SIAGA] Guest waiting at the gate: %(name)s"),
        name=visit.visitor_name or visit.visitor.name,
    )
    body = i18n.lines(
        i18n.text(
            gettext_noop("%(site)s — %(purpose)s. Approve or deny on SIAGA."),
            site=visit.site.name,
            purpose=i18n.label(Purpose, visit.purpose),
        ),
        i18n.text(gettext_noop("After hours: a commissioner's approval is needed."))
        if after_hours
        else None,
        sep=" ",
    )
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
    title = i18n.text(
        gettext_noop("[SIAGA] Guest approved: %(name)s")
        if step == "approved"
        else gettext_noop("[SIAGA] Guest denied: %(name)s"),
        name=visit.visitor_name or visit.visitor.name,
    )
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

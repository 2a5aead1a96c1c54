"""Standing passes and site rules."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.access.choices import (
    Officer,
    PassKind,
)
from siaga.access.models import (
    SiteRules,
    StandingPass,
    Visitor,
    VisitorChange,
    nik_lookup_hash,
    record_region,
)
from siaga.access.services.common import (
    _AGENCY_OFFICER,
    _WEEKDAYS,
    MAX_PASS_LENGTH,
    PersonData,
    _ledger,
    _site_in_scope,
    _zones_of,
    local_time,
    replay_or_refuse,
)
from siaga.access.services.visitors import (
    WATCHLISTED_MESSAGE,
    Watchlisted,
    _upsert_visitor,
)
from siaga.accounts.choices import AgencyKind
from siaga.accounts.models import Membership, User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created
from siaga.core.ids import uuid7
from siaga.ledger import services as ledger

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
    existing = StandingPass.objects.select_related("visitor__person").filter(pk=pass_id).first()
    if existing is not None:
        replay_or_refuse(
            existing,
            {
                "site_id": site_id,
                "issued_by_id": actor.pk,
                "kind": kind,
                # Compared as keyed hashes: the refusal says only that the request differs.
                "visitor.person.nik_hash": nik_lookup_hash(person.nik.strip()),
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
    nik = validate_nik(person.nik, today=timezone.localdate(now)).nik
    region = record_region(site.region_id)
    if Visitor.objects.by_nik(nik).filter(watchlisted=True).exists():
        raise Watchlisted("watchlisted", WATCHLISTED_MESSAGE)
    with transaction.atomic():
        visitor, visitor_new = _upsert_visitor(
            person, region=region, now=now, actor=actor, via="pass"
        )
        updates, history = [], []
        if officer and visitor.officer != officer:
            history.append(("officer", visitor.officer))
            visitor.officer = officer
            updates.append("officer")
        if user is not None and visitor.user_id != user.pk:
            taken = Visitor.objects.filter(user=user, region=region).exclude(pk=visitor.pk)
            if taken.exists():
                raise Conflict(
                    "user_has_other_record",
                    _("This account already belongs to another person's record."),
                )
            history.append(("user", str(visitor.user_id or "")))
            visitor.user = user
            updates.append("user")
        if updates:
            visitor.save(update_fields=[*updates, "updated_at"])
        if history and not visitor_new:  # a new record has no earlier value to keep
            VisitorChange.objects.bulk_create(
                VisitorChange(
                    visitor=visitor,
                    field=name,
                    old_value=old,
                    changed_at=now,
                    changed_by=actor,
                    via="pass",
                )
                for name, old in history
            )
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
            facts.append(_ledger("visitor.registered", visitor, actor, site, {}, about=visitor))
        facts.append(
            _ledger(
                "pass.issued",
                issued,
                actor,
                site,
                {
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
                about=visitor,
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
            [_ledger("pass.revoked", issued, actor, issued.site, {}, about=issued.visitor)]
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

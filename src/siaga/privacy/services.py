"""Personal data in time: the look-up log and its throttle, the retention purge, and the
export of everything SIAGA holds on one person (the right of access, UU PDP 27/2022).

Retention counts from the last time a region's record of the person was used: created, a
visit's planned end, a pass's end of validity, a pass through the gate. Past
``RETENTION_VISITOR_PHOTO_DAYS`` the record's photo is erased, past
``RETENTION_PHONE_DAYS`` its phone number (and the old numbers of its history); once every
record of a person is past ``RETENTION_NIK_DAYS`` the NIK itself is erased, the person can no
longer be found by it, and the personal parts of the ledger's entries about them are
redacted. Nobody on the watchlist or inside a site now is purged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from siaga.accounts.models import User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.privacy.choices import LookupAnswer, LookupChannel
from siaga.privacy.models import LookupLog, PurgeRun

READ_PERMISSION = "privacy.view_lookuplog"


# ---------------------------------------------------------------------------------------------
# The look-up log


def record_lookup(
    *,
    actor: User | None,
    nik_hash: str,
    answer: str,
    region: str = "",
    channel: str = LookupChannel.API,
    visitor_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> LookupLog:
    """Record one look-up by NIK. Its own write, kept whatever the caller does next: a refused
    or throttled look-up is the fact to record."""
    return LookupLog.objects.create(
        at=now or timezone.now(),
        user=actor if actor is not None and actor.pk else None,
        username=getattr(actor, "username", "") or "(command line)",
        nik_hash=nik_hash,
        answer=answer,
        channel=channel,
        region=region,
        visitor_id=visitor_id,
    )


def lookups_exceeded(actor: User, *, now: dt.datetime | None = None) -> bool:
    """Has ``actor`` made ``LOOKUP_LIMIT`` look-ups within the last ``LOOKUP_WINDOW_SECONDS``?
    Counted from the log itself, so every web and worker process shares the count."""
    now = now or timezone.now()
    since = now - dt.timedelta(seconds=settings.LOOKUP_WINDOW_SECONDS)
    made = (
        LookupLog.objects.filter(user=actor, at__gt=since)
        .exclude(answer=LookupAnswer.THROTTLED)
        .count()
    )
    return made >= settings.LOOKUP_LIMIT


def may_read_lookups(user: User) -> bool:
    """The data-protection officer (the ``privacy.view_lookuplog`` permission) and Bawaslu
    supervisors read the log, each in their own scope."""
    from siaga.accounts.choices import Role
    from siaga.accounts.models import Membership

    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_perm(READ_PERMISSION):
        return True
    return Membership.objects.filter(user=user, active=True, role=Role.BAWASLU_SUPERVISOR).exists()


def readable_lookups(user: User) -> QuerySet[LookupLog]:
    """The look-ups ``user`` may read: none unless officer or Bawaslu, then those asked in
    their regions (a national reader: all)."""
    if not may_read_lookups(user):
        return LookupLog.objects.none()
    if scope_roots(user, Action.VIEW) is None:
        return LookupLog.objects.all()
    return LookupLog.objects.for_user(user, Action.VIEW)


def lookups_of_nik(user: User, nik: str) -> QuerySet[LookupLog]:
    """The look-ups of one NIK that ``user`` may read (matched by its keyed hash). Searching
    the log for a person is itself a look-up of them, and is recorded (``channel=web``)."""
    digest = _nik_hash(validate_nik(nik).nik)
    rows = readable_lookups(user).filter(nik_hash=digest)
    roots = scope_roots(user, Action.VIEW)
    record_lookup(
        actor=user,
        nik_hash=digest,
        answer=LookupAnswer.FOUND if rows.exists() else LookupAnswer.NOT_FOUND,
        region="" if roots is None else min(roots, key=len, default=""),
        channel=LookupChannel.WEB,
    )
    return rows


# ---------------------------------------------------------------------------------------------
# Retention


def _last_used() -> Any:
    """When a record was last used: created, a visit's end, a pass's end, a gate event."""
    from siaga.access.models import GateEvent, StandingPass, Visit

    def latest(model: Any, column: str) -> Any:
        return Subquery(
            model.objects.filter(visitor=OuterRef("pk"))
            .order_by()
            .values("visitor")
            .annotate(last=Max(column))
            .values("last")[:1],
            output_field=DateTimeField(),
        )

    created = F("created_at")
    return {
        "last_visit": Coalesce(latest(Visit, "planned_end"), created),
        "last_pass": Coalesce(latest(StandingPass, "valid_until"), created),
        "last_event": Coalesce(latest(GateEvent, "at"), created),
    }


def _past(days: int, now: dt.datetime) -> Q:
    cutoff = now - dt.timedelta(days=days)
    return Q(
        created_at__lt=cutoff, last_visit__lt=cutoff, last_pass__lt=cutoff, last_event__lt=cutoff
    )


def _purgeable() -> Any:
    from siaga.access.models import Presence, Visitor

    inside = Presence.objects.filter(visitor=OuterRef("pk"))
    listed = Visitor.objects.filter(person=OuterRef("person"), watchlisted=True)
    return Visitor.objects.annotate(**_last_used()).exclude(Exists(inside)).exclude(Exists(listed))


def purge(*, now: dt.datetime | None = None, actor: Any = None, limit: int = 1000) -> PurgeRun:
    """Erase what is past its retention (see the module's doc); one transaction per person."""
    from siaga.access.models import Person, Visitor, VisitorChange

    now = now or timezone.now()
    run = PurgeRun(at=now)
    photo_days = settings.RETENTION_VISITOR_PHOTO_DAYS
    phone_days = settings.RETENTION_PHONE_DAYS
    nik_days = settings.RETENTION_NIK_DAYS
    for record_id in list(
        _purgeable()
        .filter(_past(photo_days, now), photo_sha256__gt="")
        .values_list("pk", flat=True)[:limit]
    ):
        with transaction.atomic():
            record = Visitor.objects.select_for_update().get(pk=record_id)
            VisitorChange.objects.create(
                visitor=record,
                field="photo",
                old_value=record.photo_sha256,
                changed_at=now,
                via="retention",
            )
            record.photo = None
            record.photo_content_type = ""
            record.photo_sha256 = ""
            record.save(update_fields=["photo", "photo_content_type", "photo_sha256"])
            run.photos += 1
    for record_id in list(
        _purgeable()
        .filter(_past(phone_days, now))
        .filter(Q(phone__gt="") | Q(changes__field="phone", changes__old_value__gt=""))
        .values_list("pk", flat=True)
        .distinct()[:limit]
    ):
        with transaction.atomic():
            record = Visitor.objects.select_for_update().get(pk=record_id)
            VisitorChange.objects.filter(visitor=record, field="phone").update(old_value="")
            if record.phone:
                VisitorChange.objects.create(
                    visitor=record, field="phone", old_value="", changed_at=now, via="retention"
                )
                record.phone = ""
                record.save(update_fields=["phone"])
            run.phones += 1
    recent = _purgeable().exclude(_past(nik_days, now)).filter(person=OuterRef("pk"))
    kept = Visitor.objects.filter(person=OuterRef("pk")).exclude(pk__in=_purgeable().values("pk"))
    due = (
        Person.objects.filter(erased_at__isnull=True, records__isnull=False)
        .exclude(Exists(recent))
        .exclude(Exists(kept))
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    for person_id in list(due):
        run.redacted += _erase_person(person_id, now=now, actor=actor, reason="retention")
        run.niks += 1
    # The sign-in record (user and address of every sign-in and failure) has its own limit.
    from siaga.accounts import audit

    run.signins = audit.purge_expired(now)
    run.save()
    return run


def _erase_person(person_id: uuid.UUID, *, now: dt.datetime, actor: Any, reason: str) -> int:
    from siaga.access.models import Person, Visitor, VisitorChange
    from siaga.access.services import ledgering

    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person_id)
        records = list(Visitor.objects.select_for_update().filter(person=person))
        refs = {r.person_ref for r in records if r.person_ref}
        if person.nik:
            refs.add(ledgering.person_ref(person.nik))
        redacted = 0
        for ref in sorted(refs):
            redacted += ledgering.redact_person(ref, reason=reason, actor=actor)
        for record in records:
            VisitorChange.objects.filter(visitor=record).update(old_value="")
            record.phone = ""
            record.photo = None
            record.photo_content_type = ""
            record.photo_sha256 = ""
            record.save(update_fields=["phone", "photo", "photo_content_type", "photo_sha256"])
        person.nik = ""
        # The keyed hash goes too: the NIK no longer finds the person.
        person.nik_hash = f"erased:{person.pk}"
        person.erased_at = now
        person.save(update_fields=["nik", "nik_hash", "erased_at", "updated_at"])
    return redacted


def purge_if_due(now: dt.datetime | None = None) -> PurgeRun | None:
    """The periodic job: a purge when the last one is older than ``RETENTION_PURGE_SECONDS``.
    Two workers racing here purge twice, which erases nothing more."""
    now = now or timezone.now()
    last = PurgeRun.objects.order_by("-at").values_list("at", flat=True).first()
    if last is not None and now - last < dt.timedelta(seconds=settings.RETENTION_PURGE_SECONDS):
        return None
    return purge(now=now)


# ---------------------------------------------------------------------------------------------
# The right of access


def export_person(nik: str, *, actor: User | None = None) -> dict[str, Any]:
    """Everything SIAGA holds on the person with this NIK, in every region: the identity,
    each region's record with its history, visits, passes and gate events, the ledger entries
    about them and the look-ups of their NIK. The export's own look-up is recorded."""
    from siaga.access.models import GateEvent, Person, StandingPass, Visit, Visitor
    from siaga.ledger.models import Entry

    number = validate_nik(nik).nik
    person = Person.objects.by_nik(number).first()
    digest = _nik_hash(number)
    record_lookup(
        actor=actor,
        nik_hash=digest,
        answer=LookupAnswer.FOUND if person else LookupAnswer.NOT_FOUND,
        channel=LookupChannel.EXPORT,
    )
    lookups = [
        {
            "at": log.at.isoformat(),
            "by": log.username,
            "answer": log.answer,
            "channel": log.channel,
            "region": log.region,
        }
        for log in LookupLog.objects.filter(nik_hash=digest).order_by("at", "pk")
    ]
    if person is None:
        return {"nik": number, "known": False, "records": [], "lookups": lookups}
    records = []
    subjects: list[str] = [str(person.pk)]
    for record in Visitor.objects.filter(person=person).order_by("region"):
        visits = list(
            Visit.objects.filter(visitor=record).select_related("site").order_by("planned_start")
        )
        passes = list(StandingPass.objects.filter(visitor=record).select_related("site"))
        events = list(GateEvent.objects.filter(visitor=record).select_related("site", "zone"))
        subjects += [str(record.pk), *(str(v.pk) for v in visits), *(str(p.pk) for p in passes)]
        subjects += [str(e.pk) for e in events]
        records.append(
            {
                "id": str(record.pk),
                "region": record.region,
                "name": record.name,
                "organisation": record.organisation,
                "phone": record.phone,
                "officer": record.officer,
                "photo": {"sha256": record.photo_sha256, "type": record.photo_content_type}
                if record.photo_sha256
                else None,
                "watchlisted": record.watchlisted,
                "watchlist_reason": record.watchlist_reason,
                "created_at": record.created_at.isoformat(),
                "updated_at": record.updated_at.isoformat(),
                "history": [
                    {
                        "field": c.field,
                        "old_value": c.old_value,
                        "at": c.changed_at.isoformat(),
                        "by": c.changed_by.username if c.changed_by else "",
                        "via": c.via,
                    }
                    for c in record.changes.select_related("changed_by")
                ],
                "visits": [
                    {
                        "id": str(v.pk),
                        "reference": v.reference,
                        "site": v.site.name,
                        "name_as_registered": v.visitor_name,
                        "purpose": v.purpose,
                        "state": v.state,
                        "planned_start": v.planned_start.isoformat(),
                        "planned_end": v.planned_end.isoformat(),
                        "vehicle_plate": v.vehicle_plate,
                    }
                    for v in visits
                ],
                "passes": [
                    {
                        "id": str(p.pk),
                        "site": p.site.name,
                        "kind": p.kind,
                        "valid_from": p.valid_from.isoformat(),
                        "valid_until": p.valid_until.isoformat(),
                        "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
                    }
                    for p in passes
                ],
                "gate_events": [
                    {
                        "id": str(e.pk),
                        "kind": e.kind,
                        "at": e.at.isoformat(),
                        "site": e.site.name,
                        "zone": e.zone.name if e.zone else None,
                        "ledger_seq": e.ledger_seq,
                    }
                    for e in events
                ],
            }
        )
    entries = [
        {"seq": e.seq, "kind": e.kind, "recorded_at": e.recorded_at.isoformat(), "region": e.region}
        for e in Entry.objects.filter(subject_id__in=subjects).order_by("seq")
    ]
    return {
        "nik": number,
        "known": True,
        "person": {
            "id": str(person.pk),
            "created_at": person.created_at.isoformat(),
            "erased_at": person.erased_at.isoformat() if person.erased_at else None,
        },
        "records": records,
        "ledger_entries": entries,
        "lookups": lookups,
    }


def _nik_hash(nik: str) -> str:
    from siaga.access.models import nik_lookup_hash

    return nik_lookup_hash(nik)

"""Visitors (one record per region), their history, the look-up by NIK and the watchlist."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import IO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.access.models import (
    Person,
    Visitor,
    VisitorChange,
    nik_lookup_hash,
    record_region,
)
from siaga.access.services import ledgering
from siaga.access.services.common import (
    PersonData,
    _person_payload,
    _personal,
    normalise_phone,
)
from siaga.accounts.models import User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, unit_covering, user_can
from siaga.alarms import services as alarms
from siaga.core import i18n
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied, TooManyRequests
from siaga.incidents.photos import decode_photo
from siaga.ledger import services as ledger
from siaga.privacy import services as privacy
from siaga.sites.models import Site, Zone

# ---------------------------------------------------------------------------------------------
# Visitors: one national person, one record per region


def _person_for(nik: str) -> Person:
    """The person with this (valid) NIK, created if new: the NIK encrypted, its hash unique."""
    digest = nik_lookup_hash(nik)
    found = Person.objects.filter(nik_hash=digest).first()
    if found is not None:
        if not found.nik:  # erased by retention, and back again
            found.nik = nik
            found.erased_at = None
            found.save(update_fields=["nik", "erased_at", "updated_at"])
        return found
    try:
        with transaction.atomic():
            return Person.objects.create(nik_hash=digest, nik=nik)
    except IntegrityError:
        return Person.objects.get(nik_hash=digest)


def _record_change(
    visitor: Visitor, field: str, old: str, *, actor: User | None, now: dt.datetime, via: str
) -> VisitorChange:
    return VisitorChange(
        visitor=visitor, field=field, old_value=old, changed_at=now, changed_by=actor, via=via
    )


def _upsert_visitor(
    person: PersonData,
    *,
    region: str,
    now: dt.datetime,
    actor: User | None = None,
    via: str = "",
) -> tuple[Visitor, bool]:
    """Find the person's record in ``region`` (a Kabupaten/Kota code), or create it; fill in
    what was given, keeping the old value of every fact that changes. Another region's record
    is never read or written. Validated first."""
    nik = validate_nik(person.nik, today=timezone.localdate(now)).nik
    name = person.name.strip()[:150]
    organisation = person.organisation.strip()[:150]
    phone = normalise_phone(person.phone)
    identity = _person_for(nik)
    visitor = Visitor.objects.filter(person=identity, region=region).first()
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
                        person=identity,
                        region=region,
                        nik_masked=validate_nik(nik).masked,
                        person_ref=ledgering.person_ref(nik),
                        name=name,
                        organisation=organisation,
                        phone=phone,
                    ),
                    True,
                )
        except IntegrityError:
            visitor = Visitor.objects.get(person=identity, region=region)
    visitor.person = identity
    changed, history = [], []
    for attr, value in (("name", name), ("organisation", organisation), ("phone", phone)):
        old = getattr(visitor, attr)
        if value and old != value:
            history.append(_record_change(visitor, attr, old, actor=actor, now=now, via=via))
            setattr(visitor, attr, value)
            changed.append(attr)
    if changed:
        visitor.save(update_fields=[*changed, "updated_at"])
        VisitorChange.objects.bulk_create(history)
    return visitor, False


def is_listed(person_id: uuid.UUID) -> bool:
    """Whether any region's record puts the person on the watchlist: asked at every scan, so
    one plain indexed query (the ORM's compiling of ``.exists()`` cost more than running it)."""
    field = Visitor._meta.get_field("person")
    listed = Visitor._meta.get_field("watchlisted").column
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT 1 FROM "{Visitor._meta.db_table}" '  # noqa: S608 - names from the model
            f'WHERE "{field.column}" = %s AND "{listed}" LIMIT 1',
            [field.get_db_prep_value(person_id, connection)],
        )
        return cursor.fetchone() is not None


def listing_of(person_id: uuid.UUID) -> Visitor | None:
    """The record that puts the person on the watchlist, in whatever region: a listing holds
    at every gate. Only its existence is used outside its region, never its facts."""
    return Visitor.objects.filter(person_id=person_id, watchlisted=True).first()


def _gate_regions(actor: User) -> list[str] | None:
    """Where the actor works a gate or approves access (None: everywhere)."""
    roots = scope_roots(actor, Action.OPERATE_GATE)
    approvers = scope_roots(actor, Action.APPROVE_ACCESS)
    if roots is None or approvers is None:
        return None
    return sorted(roots | approvers)


def _own_records(actor: User) -> QuerySet[Visitor]:
    return Visitor.objects.for_user(actor, Action.OPERATE_GATE, Action.APPROVE_ACCESS)


def lookup_visitor(*, actor: User, nik: str, channel: str = "api") -> Visitor:
    """The gate's look-up by NIK: answers only what the caller's own region already holds
    (else ``visitor_not_known_here``: register them), throttled per user, and every look-up is
    recorded (who, when, the NIK's keyed hash, the answer) for the data-protection officer
    and Bawaslu."""
    regions = _gate_regions(actor)
    if regions is not None and not regions:
        raise PermissionDenied("gate_not_allowed", _("You do not work at a gate."))
    number = validate_nik(nik).nik
    digest = nik_lookup_hash(number)
    region = "" if regions is None else min(regions, key=len)
    if privacy.lookups_exceeded(actor):
        privacy.record_lookup(
            actor=actor, nik_hash=digest, answer="throttled", region=region, channel=channel
        )
        raise TooManyRequests(
            "lookup_throttled",
            _("Too many look-ups by NIK; wait a minute and try again."),
            detail={"retry_after": settings.LOOKUP_WINDOW_SECONDS},
        )
    visitor = (
        _own_records(actor)
        .filter(person__nik_hash=digest)
        .select_related("person")
        .order_by("-updated_at")
        .first()
    )
    privacy.record_lookup(
        actor=actor,
        nik_hash=digest,
        answer="found" if visitor is not None else "not_found",
        region=visitor.region if visitor is not None else region,
        channel=channel,
        visitor_id=visitor.pk if visitor is not None else None,
    )
    if visitor is None:
        raise NotFound(
            "visitor_not_known_here",
            _("This person is not known in your region: register them."),
        )
    return visitor


def set_visitor_photo(
    *,
    actor: User,
    visitor_id: uuid.UUID,
    photo: IO[bytes],
    size: int | None = None,
    now: dt.datetime | None = None,
) -> Visitor:
    """Store the photo of a record of the actor's region: it must decode as an image, at most
    the configured size (5 MB), and is re-encoded without metadata; stored encrypted. The
    photo replaced is named in the record's history by its SHA-256."""
    visitor = Visitor.objects.for_user(actor, Action.OPERATE_GATE).filter(pk=visitor_id).first()
    if visitor is None:
        raise NotFound("visitor_not_found", _("No such visitor."))
    decoded = decode_photo(photo, size=size, max_bytes=settings.VISITOR_PHOTO_MAX_BYTES)
    now = now or timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if visitor.photo_sha256 == decoded.sha256:
            return visitor
        if visitor.photo_sha256:
            _record_change(
                visitor, "photo", visitor.photo_sha256, actor=actor, now=now, via="photo"
            ).save()
        visitor.photo = decoded.content
        visitor.photo_content_type = decoded.content_type
        visitor.photo_sha256 = decoded.sha256
        visitor.save(update_fields=["photo", "photo_content_type", "photo_sha256", "updated_at"])
        label, pk = ledger.subject_of(visitor)
        ledger.append(
            kind="access.visitor.photo",
            subject=(label, pk),
            actor=actor,
            region=visitor.region,
            payload={**_person_payload(visitor), "sha256": decoded.sha256},
            personal=_personal(visitor),
            person=visitor.person_ref,
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
    """Put a NIK on the watchlist (or take it off). Kapolres, commissioners and admins may.
    The listing is the lister's region's record of the person, and holds at every gate."""
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
    lister_region = "" if roots is None else min(roots, key=len)
    with transaction.atomic():
        number = validate_nik(nik, today=timezone.localdate(now)).nik
        existing = listing_of(_person_for(number).pk) if not listed else None
        if existing is not None:
            visitor = existing
        else:
            visitor, _created = _upsert_visitor(
                PersonData(nik=number, name=name),
                region=record_region(lister_region),
                now=now,
                actor=actor,
                via="watchlist",
            )
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
            visitor.watchlist_region = lister_region
        elif not listed:
            visitor.watchlist_region = ""
        visitor.save()
        ledger.append(
            kind="access.watchlist.listed" if listed else "access.watchlist.unlisted",
            subject=visitor,
            actor=actor,
            region=visitor.region,
            payload={**_person_payload(visitor), "reason": visitor.watchlist_reason},
            personal=_personal(visitor),
            person=visitor.person_ref,
        )
    return visitor


class Watchlisted(PermissionDenied):
    pass


WATCHLISTED_MESSAGE = _(
    "This person is on the watchlist and may not enter. The Kapolres and KPU are alerted."
)


def _refuse_watchlisted(
    actor: User,
    visitor: Visitor | None,
    site: Site,
    zone: Zone | None,
    now: dt.datetime,
    step: str,
    *,
    person: PersonData | None = None,
) -> None:
    """Raise the alarm (its own transaction, so it stays) and refuse. ``visitor`` is the
    record of the site's region; when there is none yet (a registration), the alarm names the
    person as typed at this gate: another region's listing lends nothing but its existence."""
    if visitor is not None:
        name, masked, evidence_id = visitor.name, visitor.masked_nik, str(visitor.pk)
        subject: tuple[str, str] = ledger.subject_of(visitor)
        payload = _person_payload(visitor)
        personal, ref = _personal(visitor), visitor.person_ref
    else:
        assert person is not None
        number = validate_nik(person.nik).nik
        name, masked = person.name.strip()[:150], validate_nik(number).masked
        identity = _person_for(number)
        evidence_id = str(identity.pk)
        subject = ("access.person", evidence_id)
        payload = {"person": evidence_id, "nik_masked": masked}
        personal = {"name": name, "organisation": person.organisation.strip()[:150]}
        ref = ledgering.person_ref(number)
    with transaction.atomic():
        alarm = alarms.raise_alarm(
            source="access",
            key=f"watchlist:{site.pk}:{evidence_id}",
            kind="watchlist",
            site=site,
            zone=zone,
            severity="major",
            message=i18n.text(
                gettext_noop("Watchlisted person at the gate: %(name)s (%(nik)s)"),
                name=name,
                nik=masked,
            ),
            evidence=[{"type": "visitor", "id": evidence_id, "label": name}],
            actor=actor,
            now=now,
        )
        ledger.append(
            kind="access.refused",
            subject=subject,
            actor=actor,
            unit=unit_covering(actor, site.region_id),
            region=site.region_id,
            payload={
                **payload,
                "site": str(site.pk),
                "reason": "watchlisted",
                "step": step,
                "alarm": str(alarm.pk),
            },
            personal=personal,
            person=ref,
        )
    raise Watchlisted("watchlisted", WATCHLISTED_MESSAGE, detail={"alarm": str(alarm.pk)})

"""Visitors (one record per region), their history, the look-up by NIK and the watchlist."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import IO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from siaga.access.models import (
    Visitor,
)
from siaga.access.services.common import (
    PersonData,
    _person_payload,
    normalise_phone,
)
from siaga.accounts.models import User
from siaga.accounts.nik import validate_nik
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, unit_covering, user_can
from siaga.alarms import services as alarms
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied
from siaga.incidents.photos import decode_photo
from siaga.ledger import services as ledger
from siaga.sites.models import Site, Zone

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

"""Shared by the gate's use cases: person and item shapes, input checks, site rules, ledger."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.utils.translation import gettext_lazy as _

from siaga.access.choices import (
    ItemKind,
    Officer,
)
from siaga.access.models import (
    Presence,
    SiteRules,
    StandingPass,
    Visit,
    Visitor,
)
from siaga.accounts.choices import AgencyKind
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import unit_covering, user_can
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.validators import normalise_plate as normalise_plate  # the one plate rule
from siaga.ledger import services as ledger
from siaga.regions.timezones import time_zone_of
from siaga.sites.choices import ZoneKind
from siaga.sites.models import Site, Zone

# A visitor may come this long before the planned start; later than the planned end the visit
# has expired.
EARLY_ARRIVAL = dt.timedelta(hours=2)
MAX_VISIT_LENGTH = dt.timedelta(days=7)
MAX_PASS_LENGTH = dt.timedelta(days=400)
# Indonesian plates: area letters, number, suffix letters ("BG 1234 AB", "B 1 RI").
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


def replay_or_refuse(existing: Any, wanted: dict[str, Any]) -> None:
    """A retry with the same id must carry the same data; anything else reuses an id. The
    refusal names no field: which one differs (a person's NIK, say) would tell the caller
    what another record holds."""
    if any(_value(existing, key) != value for key, value in wanted.items()):
        raise Conflict(
            "id_reused",
            _("This id was already used for a different request."),
            detail={"id": str(existing.pk)},
        )


def _value(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name, None)
    return obj


def _ledger(
    kind: str,
    subject: Any,
    actor: User | None,
    site: Site,
    payload: dict[str, Any],
    *,
    about: Visitor | None = None,
) -> ledger.Fact:
    """A fact of the gate at ``site``; ``about`` names the person it concerns: their record
    and masked NIK go in the payload, their name and organisation in its personal part."""
    unit = unit_covering(actor, site.region_id)
    label, pk = subject if isinstance(subject, tuple) else ledger.subject_of(subject)
    return ledger.Fact(
        kind=f"access.{kind}",
        subject_type=label,
        subject_id=pk,
        payload={"site": str(site.pk), **(_person_payload(about) if about else {}), **payload},
        actor=actor.username if actor else "",
        unit=unit,
        region=site.region_id,
        personal=_personal(about) if about else None,
        person=about.person_ref if about else "",
    )


def _person_payload(visitor: Visitor) -> dict[str, Any]:
    # The ledger is exported to oversight bodies: it names a person by record and masked NIK;
    # the name goes in the entry's personal part (_personal), which erasure can redact.
    return {"visitor": str(visitor.pk), "nik_masked": visitor.masked_nik}


def _personal(visitor: Visitor) -> dict[str, Any]:
    return {"name": visitor.name, "organisation": visitor.organisation}

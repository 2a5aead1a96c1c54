"""What the logistics use cases share: input shapes, checks, stock rows, ledger facts and
discrepancies with their alarms."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.scoping import unit_covering, user_can
from siaga.alarms import services as alarms
from siaga.alarms.choices import AlarmSeverity
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.ledger import services as ledger
from siaga.logistics.choices import (
    DiscrepancyKind,
)
from siaga.logistics.models import (
    Discrepancy,
    Election,
    Handover,
    ItemType,
    Package,
    Receipt,
    Stock,
)
from siaga.sites.models import Site

PACKAGE_PREFIX = "SIAGA-PKG:"
WITNESS_AGENCIES = ("polri", "bawaslu", "kpu", "other")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{2,39}$")
_SERIAL = re.compile(r"^[A-Z0-9][A-Z0-9\-]{2,39}$")


@dataclass(frozen=True)
class Line:
    """So many of an item (by its code in the election's catalogue)."""

    item: str
    quantity: int


@dataclass(frozen=True)
class ReceiptLineIn:
    item: str
    expected: int
    counted: int
    damaged: int = 0


@dataclass(frozen=True)
class SortingLineIn:
    item: str
    good: int
    damaged: int
    reasons: dict[str, int] = field(default_factory=dict)
    replacement_requested: int = 0


@dataclass(frozen=True)
class DestructionLineIn:
    item: str
    damaged: int = 0
    excess: int = 0


@dataclass(frozen=True)
class ReceivedLine:
    """What the receiver of a BAST counted of a loose item: so many received, of which so many
    arrived damaged (short is what was sent less what was received)."""

    item: str
    quantity: int
    damaged: int = 0


@dataclass(frozen=True)
class Witness:
    name: str
    agency: str
    position: str = ""


def package_code(raw: str) -> str:
    """A package code as printed, scanned (``SIAGA-PKG:…``) or typed in lower case."""
    return (raw or "").strip().removeprefix(PACKAGE_PREFIX).strip().upper()


def seal_serial(raw: str) -> str:
    return (raw or "").strip().upper()


def _quantity(value: Any, field_name: str, *, positive: bool = False) -> int:
    """Whole, non-negative numbers only (a JSON 2.5 or "3" is refused, not rounded)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise InvalidInput(
            "quantity_invalid",
            _("Quantities are whole numbers, zero or more.")
            if not positive
            else _("Quantities are whole numbers, one or more."),
            detail={"field": field_name, "value": value if isinstance(value, int) else str(value)},
        )
    if value > 10_000_000:
        raise InvalidInput(
            "quantity_invalid",
            _("This quantity is beyond any delivery."),
            detail={"field": field_name, "value": value},
        )
    return value


def _election(code: str) -> Election:
    election = Election.objects.filter(code=code).first()
    if election is None:
        raise NotFound("election_unknown", _("No such election."), detail={"election": code})
    return election


def _items(election: Election, codes: Iterable[str]) -> dict[str, ItemType]:
    wanted = set(codes)
    found = {i.code: i for i in ItemType.objects.filter(election=election, code__in=wanted)}
    missing = sorted(wanted - found.keys())
    if missing:
        raise InvalidInput(
            "item_unknown",
            _("No such item in this election's catalogue."),
            detail={"items": missing},
        )
    return found


def _no_repeats(codes: Sequence[str], field_name: str) -> None:
    repeated = sorted(code for code, count in Counter(codes).items() if count > 1)
    if repeated:
        raise InvalidInput(
            "duplicate_entries",
            _("The same entry is listed twice."),
            detail={"field": field_name, "values": repeated},
        )


def _site(actor: User, site_id: Any, action: str, code: str) -> Site:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    if not user_can(actor, action, site.region_id):
        raise PermissionDenied(code, _("This site is outside your scope."))
    return site


def _witnesses(witnesses: Sequence[Witness]) -> list[dict[str, str]]:
    cleaned = []
    for number, w in enumerate(witnesses):
        name = (w.name or "").strip()
        if not name or len(name) > 150 or w.agency not in WITNESS_AGENCIES:
            raise InvalidInput(
                "witness_invalid",
                _("Each witness needs a name and an agency (polri, bawaslu, kpu or other)."),
                detail={"witness": number},
            )
        cleaned.append({"name": name, "agency": w.agency, "position": (w.position or "")[:80]})
    return cleaned


def _fact(
    kind: str,
    subject: Any,
    actor: User | None,
    site: Site,
    payload: dict[str, Any],
    *,
    id: uuid.UUID | None = None,
) -> ledger.Fact:
    label, pk = subject if isinstance(subject, tuple) else ledger.subject_of(subject)
    return ledger.Fact(
        kind=f"logistics.{kind}",
        subject_type=label,
        subject_id=pk,
        payload={"site": str(site.pk), **payload},
        actor=actor.username if actor else "",
        unit=unit_covering(actor, site.region_id),
        region=site.region_id,
        id=id,
    )


def _stock_rows(site: Site, items: Iterable[ItemType]) -> dict[int, Stock]:
    """The site's stock rows of these items, locked (created at zero where missing)."""
    ids = [i.pk for i in items]
    Stock.objects.bulk_create([Stock(site=site, item_id=i) for i in ids], ignore_conflicts=True)
    return {
        s.item_id: s for s in Stock.objects.select_for_update().filter(site=site, item_id__in=ids)
    }


def _take(stock: dict[int, Stock], item: ItemType, quantity: int, site: Site) -> None:
    row = stock[item.pk]
    if row.quantity < quantity:
        raise Conflict(
            "insufficient_stock",
            _("Not enough %(item)s in stock at %(site)s: %(have)d, wanted %(want)d.")
            % {"item": item.name, "site": site.name, "have": row.quantity, "want": quantity},
            detail={"item": item.code, "in_stock": row.quantity, "wanted": quantity},
        )
    row.quantity -= quantity


def _save_stock(stock: dict[int, Stock]) -> None:
    Stock.objects.bulk_update(stock.values(), ["quantity", "damaged", "updated_at"])


def _discrepancy_alarm(
    site: Site,
    key: str,
    message: str,
    evidence: list[dict[str, Any]],
    actor: User | None,
    now: dt.datetime,
) -> Any:
    return alarms.raise_alarm(
        source="logistics",
        key=key,
        kind="custody_discrepancy",
        site=site,
        severity=AlarmSeverity.MAJOR,
        message=message,
        evidence=evidence,
        actor=actor,
        now=now,
    )


def _raise_discrepancy(
    *,
    id: uuid.UUID,
    kind: str,
    site: Site,
    actor: User | None,
    now: dt.datetime,
    handover: Handover | None = None,
    receipt: Receipt | None = None,
    package: Package | None = None,
    item: ItemType | None = None,
    quantity: int | None = None,
    detail: dict[str, Any] | None = None,
    alarm: bool = True,
) -> Discrepancy:
    """One discrepancy (the same ``id`` again is the same one), in the ledger, and an alarm to
    KPU and police at the site."""
    existing = Discrepancy.objects.filter(pk=id).first()
    if existing is not None:
        return existing
    found = Discrepancy(
        id=id,
        kind=kind,
        site=site,
        handover=handover,
        receipt=receipt,
        package=package,
        item=item,
        quantity=quantity,
        detail=detail or {},
        raised_at=now,
        raised_by=actor,
    )
    if alarm:
        subject = handover.number if handover else receipt.delivery_note if receipt else ""
        label = str(DiscrepancyKind(kind).label)
        found.alarm = _discrepancy_alarm(
            site,
            f"custody:{handover.pk if handover else receipt.pk if receipt else id}",
            f"{label}: {subject} {package.code if package else ''}".strip(),
            [{"type": "logistics.discrepancy", "id": str(id)}],
            actor,
            now,
        )
    found.save(force_insert=True)
    ledger.append_many(
        [
            _fact(
                "discrepancy.raised",
                found,
                actor,
                site,
                {
                    "kind": kind,
                    "handover": str(handover.pk) if handover else None,
                    "receipt": str(receipt.pk) if receipt else None,
                    "package": package.code if package else None,
                    "item": item.code if item else None,
                    "quantity": quantity,
                    "detail": detail or {},
                },
            )
        ]
    )
    return found


def _derived_id(base: uuid.UUID, *parts: str) -> uuid.UUID:
    """A stable id for a row that one call creates several of, so a retry finds the same."""
    return uuid.uuid5(base, "/".join(parts))


def _as_uuid(value: Any) -> Any:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value


def _is_uuid(value: Any) -> bool:
    return isinstance(_as_uuid(value), uuid.UUID)

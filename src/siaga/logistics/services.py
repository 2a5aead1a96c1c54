"""Logistics use cases: each changes state in one transaction and writes its ledger entries.

Stock (loose items per site), each package's location and state, and each seal's state change
only here, each with the ledger entry that records it; ``replay.py`` rebuilds them from the
ledger to prove it."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import unit_covering, user_can
from siaga.alarms import services as alarms
from siaga.alarms.choices import AlarmSeverity
from siaga.alarms.models import Alarm
from siaga.core import bulk
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.ledger import services as ledger
from siaga.ledger.models import Entry
from siaga.logistics.catalogue import CATALOGUE_2024, Item
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    Leg,
    PackageKind,
    PackageState,
    ScanAction,
    SealState,
)
from siaga.logistics.models import (
    Destruction,
    Discrepancy,
    Election,
    Handover,
    HandoverLine,
    HandoverPackage,
    ItemType,
    NeedRule,
    Package,
    PackageLine,
    Receipt,
    ReceiptLine,
    Scan,
    Seal,
    SortingLine,
    SortingSession,
    Stock,
)
from siaga.regions.codes import in_subtree
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site


def seed_catalogue(
    *,
    code: str = "pemilu-2024",
    name: str = "Pemilu 2024",
    voting_day: dt.date = dt.date(2024, 2, 14),
    catalogue: tuple[Item, ...] = CATALOGUE_2024,
) -> Election:
    """The election with the catalogue and need rules, as data. Run again, it adds what is
    missing and leaves what an administrator has edited alone."""
    with transaction.atomic():
        election, _created = Election.objects.get_or_create(
            code=code, defaults={"name": name, "voting_day": voting_day}
        )
        for position, item in enumerate(catalogue, start=1):
            row, created = ItemType.objects.get_or_create(
                election=election,
                code=item.code,
                defaults={
                    "name": item.name,
                    "category": item.category,
                    "colour": item.colour,
                    "unit": item.unit,
                    "position": position,
                },
            )
            if created:
                NeedRule.objects.bulk_create(
                    NeedRule(
                        item=row,
                        basis=rule.basis,
                        quantity=rule.quantity,
                        reserve_percent=rule.reserve_percent,
                        excluded_regions=list(rule.excluded),
                    )
                    for rule in item.rules
                )
    return election


# --- shared -------------------------------------------------------------------------------

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


# --- receipt from vendors, sorting, destruction ---------------------------------------------


def record_receipt(
    *,
    actor: User,
    id: uuid.UUID,
    site_id: Any,
    election: str,
    vendor: str,
    delivery_note: str,
    lines: Sequence[ReceiptLineIn],
    vehicle_plate: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> Created[Receipt]:
    """A vendor's delivery counted in: good items go into stock, damaged ones are kept apart,
    and each shortfall or damaged count is a discrepancy that stays open until resolved."""
    now = now or timezone.now()
    existing = Receipt.objects.filter(pk=id).first()
    if existing is not None:
        replay_or_conflict(
            existing, {"delivery_note": delivery_note.strip(), "site_id": existing.site_id}
        )
        return Created(existing, created=False)
    site = _site(actor, site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    the_election = _election(election)
    if not vendor.strip() or not delivery_note.strip():
        raise InvalidInput(
            "receipt_incomplete",
            _("A receipt needs the vendor and the delivery note number."),
            detail={"fields": ["vendor", "delivery_note"]},
        )
    if not lines:
        raise InvalidInput(
            "lines_required", _("List at least one item."), detail={"field": "lines"}
        )
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.expected, f"lines[{n}].expected")
        _quantity(line.counted, f"lines[{n}].counted")
        _quantity(line.damaged, f"lines[{n}].damaged")
        if line.damaged > line.counted:
            raise InvalidInput(
                "damaged_exceeds_count",
                _("More damaged than counted."),
                detail={"field": f"lines[{n}].damaged"},
            )
    items = _items(the_election, (line.item for line in lines))
    with transaction.atomic():
        receipt = Receipt.objects.create(
            id=id,
            site=site,
            election=the_election,
            vendor=vendor.strip()[:150],
            delivery_note=delivery_note.strip()[:60],
            vehicle_plate=vehicle_plate.strip().upper()[:15],
            received_at=now,
            received_by=actor,
            note=note[:500],
        )
        ReceiptLine.objects.bulk_create(
            ReceiptLine(
                receipt=receipt,
                item=items[line.item],
                expected=line.expected,
                counted=line.counted,
                damaged=line.damaged,
            )
            for line in lines
        )
        stock = _stock_rows(site, items.values())
        for line in lines:
            row = stock[items[line.item].pk]
            row.quantity += line.counted - line.damaged
            row.damaged += line.damaged
        _save_stock(stock)
        entry = ledger.append_many(
            [
                _fact(
                    "receipt.recorded",
                    receipt,
                    actor,
                    site,
                    {
                        "vendor": receipt.vendor,
                        "delivery_note": receipt.delivery_note,
                        "lines": [
                            [items[x.item].pk, x.expected, x.counted, x.damaged] for x in lines
                        ],
                    },
                )
            ]
        )[0]
        receipt.ledger_seq = entry.seq
        receipt.save(update_fields=["ledger_seq"])
        for line in lines:
            item = items[line.item]
            if line.counted < line.expected:
                _raise_discrepancy(
                    id=_derived_id(id, "shortfall", item.code),
                    kind=DiscrepancyKind.SHORTFALL,
                    site=site,
                    actor=actor,
                    now=now,
                    receipt=receipt,
                    item=item,
                    quantity=line.expected - line.counted,
                    detail={"expected": line.expected, "counted": line.counted},
                )
            if line.damaged:
                _raise_discrepancy(
                    id=_derived_id(id, "damaged", item.code),
                    kind=DiscrepancyKind.DAMAGED,
                    site=site,
                    actor=actor,
                    now=now,
                    receipt=receipt,
                    item=item,
                    quantity=line.damaged,
                    alarm=False,
                )
    return Created(receipt, created=True)


def record_sorting(
    *,
    actor: User,
    id: uuid.UUID,
    site_id: Any,
    election: str,
    lines: Sequence[SortingLineIn],
    started_at: dt.datetime,
    ended_at: dt.datetime,
    workers: int = 0,
    note: str = "",
    now: dt.datetime | None = None,
) -> Created[SortingSession]:
    """A sortir-lipat session: sheets found damaged move from good stock to damaged stock, and
    replacements asked of the vendor are recorded with it."""
    now = now or timezone.now()
    existing = SortingSession.objects.filter(pk=id).first()
    if existing is not None:
        return Created(existing, created=False)
    site = _site(actor, site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    the_election = _election(election)
    if ended_at < started_at:
        raise InvalidInput(
            "period_invalid", _("The session ends before it starts."), detail={"field": "ended_at"}
        )
    if not lines:
        raise InvalidInput(
            "lines_required", _("List at least one item."), detail={"field": "lines"}
        )
    _no_repeats([line.item for line in lines], "lines")
    _quantity(workers, "workers")
    for n, line in enumerate(lines):
        _quantity(line.good, f"lines[{n}].good")
        _quantity(line.damaged, f"lines[{n}].damaged")
        _quantity(line.replacement_requested, f"lines[{n}].replacement_requested")
        for reason, count in line.reasons.items():
            _quantity(count, f"lines[{n}].reasons.{reason}")
    items = _items(the_election, (line.item for line in lines))
    with transaction.atomic():
        session = SortingSession.objects.create(
            id=id,
            site=site,
            election=the_election,
            started_at=started_at,
            ended_at=ended_at,
            supervisor=actor,
            workers=workers,
            note=note[:500],
        )
        SortingLine.objects.bulk_create(
            SortingLine(
                session=session,
                item=items[line.item],
                good=line.good,
                damaged=line.damaged,
                reasons={str(k)[:40]: v for k, v in line.reasons.items()},
                replacement_requested=line.replacement_requested,
            )
            for line in lines
        )
        stock = _stock_rows(site, items.values())
        for line in lines:
            item = items[line.item]
            _take(stock, item, line.damaged, site)
            stock[item.pk].damaged += line.damaged
        _save_stock(stock)
        entry = ledger.append_many(
            [
                _fact(
                    "sorting.recorded",
                    session,
                    actor,
                    site,
                    {
                        "lines": [
                            [items[x.item].pk, x.good, x.damaged, x.replacement_requested]
                            for x in lines
                        ]
                    },
                )
            ]
        )[0]
        session.ledger_seq = entry.seq
        session.save(update_fields=["ledger_seq"])
    return Created(session, created=True)


def record_destruction(
    *,
    actor: User,
    id: uuid.UUID,
    site_id: Any,
    election: str,
    lines: Sequence[DestructionLineIn],
    witnesses: Sequence[Witness],
    method: str,
    now: dt.datetime | None = None,
) -> Created[Destruction]:
    """Damaged and excess ballots destroyed before a Bawaslu and a police witness: both must be
    named, and no more can be destroyed than the site holds."""
    now = now or timezone.now()
    existing = Destruction.objects.filter(pk=id).first()
    if existing is not None:
        return Created(existing, created=False)
    site = _site(actor, site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    the_election = _election(election)
    cleaned = _witnesses(witnesses)
    agencies = {w["agency"] for w in cleaned}
    if not {"bawaslu", "polri"} <= agencies:
        raise InvalidInput(
            "witnesses_required",
            _("A destruction needs a Bawaslu witness and a police witness."),
            detail={"field": "witnesses"},
        )
    if not method.strip():
        raise InvalidInput("method_required", _("Say how the ballots were destroyed."))
    if not lines:
        raise InvalidInput(
            "lines_required", _("List at least one item."), detail={"field": "lines"}
        )
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.damaged, f"lines[{n}].damaged")
        _quantity(line.excess, f"lines[{n}].excess")
    items = _items(the_election, (line.item for line in lines))
    with transaction.atomic():
        stock = _stock_rows(site, items.values())
        for line in lines:
            item = items[line.item]
            row = stock[item.pk]
            if row.damaged < line.damaged:
                raise Conflict(
                    "insufficient_stock",
                    _("Not enough damaged %(item)s at %(site)s: %(have)d, wanted %(want)d.")
                    % {
                        "item": item.name,
                        "site": site.name,
                        "have": row.damaged,
                        "want": line.damaged,
                    },
                    detail={"item": item.code, "damaged": row.damaged, "wanted": line.damaged},
                )
            row.damaged -= line.damaged
            _take(stock, item, line.excess, site)
        _save_stock(stock)
        destruction = Destruction.objects.create(
            id=id,
            site=site,
            election=the_election,
            at=now,
            method=method.strip()[:100],
            witnesses=cleaned,
            lines=[[x.item, x.damaged, x.excess] for x in lines],
            recorded_by=actor,
        )
        entry = ledger.append_many(
            [
                _fact(
                    "destruction.recorded",
                    destruction,
                    actor,
                    site,
                    {
                        "lines": [[items[x.item].pk, x.damaged, x.excess] for x in lines],
                        "witnesses": cleaned,
                        "method": destruction.method,
                    },
                )
            ]
        )[0]
        destruction.ledger_seq = entry.seq
        destruction.save(update_fields=["ledger_seq"])
    return Created(destruction, created=True)


# --- packing and seals -----------------------------------------------------------------------


def service_area(site: Site) -> str:
    """The region a site serves: a warehouse or office its owning unit's, a PPK its kecamatan,
    a PPS its desa, a TPS itself."""
    if site.kind in (SiteKind.WAREHOUSE, SiteKind.OFFICE):
        return site.owner_unit.region_id
    return site.region_id


def _check_serials(serials: Sequence[str], field_name: str) -> list[str]:
    cleaned = [seal_serial(s) for s in serials]
    bad = [s for s in cleaned if not _SERIAL.match(s)]
    if bad:
        raise InvalidInput(
            "seal_serial_invalid",
            _("A seal serial is 3 to 40 letters, digits or dashes."),
            detail={"field": field_name, "values": bad[:10]},
        )
    _no_repeats(cleaned, field_name)
    return cleaned


def _refuse_reused(serials: Sequence[str]) -> None:
    used = sorted(Seal.objects.filter(serial__in=serials).values_list("serial", flat=True))
    if used:
        raise Conflict(
            "seal_reused",
            _("A seal serial can be applied only once; these were used before."),
            detail={"seals": used},
        )


def pack_package(
    *,
    actor: User,
    id: uuid.UUID,
    site_id: Any,
    destination_id: Any,
    election: str,
    kind: str,
    lines: Sequence[Line],
    seals: Sequence[str],
    code: str | None = None,
    label: str = "",
    now: dt.datetime | None = None,
) -> Created[Package]:
    """A box or bundle packed at a warehouse for one TPS: its contents leave the site's loose
    stock, and each seal serial is applied once and for ever."""
    now = now or timezone.now()
    existing = Package.objects.filter(pk=id).first()
    if existing is not None:
        replay_or_conflict(existing, {"destination_id": _as_uuid(destination_id), "kind": kind})
        return Created(existing, created=False)
    site = _site(actor, site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    destination = Site.objects.filter(pk=destination_id, kind=SiteKind.TPS).first()
    if destination is None:
        raise NotFound(
            "tps_not_found", _("No such TPS."), detail={"destination": str(destination_id)}
        )
    if not user_can(actor, Action.RECORD_LOGISTICS, destination.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This TPS is outside your scope."))
    if kind not in PackageKind.values:
        raise InvalidInput(
            "package_kind_invalid",
            _("A package is a box or a bundle."),
            detail={"allowed": list(PackageKind.values)},
        )
    the_election = _election(election)
    if not lines:
        raise InvalidInput(
            "lines_required", _("List at least one item."), detail={"field": "lines"}
        )
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.quantity, f"lines[{n}].quantity", positive=True)
    if not seals:
        raise InvalidInput(
            "seals_required",
            _("A package is closed with at least one seal."),
            detail={"field": "seals"},
        )
    serials = _check_serials(seals, "seals")
    wanted_code = package_code(code) if code else ""
    if code is not None and not _CODE.match(wanted_code):
        raise InvalidInput(
            "package_code_invalid",
            _("A package code is 3 to 40 letters, digits, dots, dashes or slashes."),
            detail={"field": "code"},
        )
    items = _items(the_election, (line.item for line in lines))
    _refuse_reused(serials)
    try:
        with transaction.atomic():
            if not wanted_code:
                taken = Package.objects.filter(destination=destination).count()
                wanted_code = f"{destination.code}-{taken + 1:02d}"
            stock = _stock_rows(site, items.values())
            for line in lines:
                _take(stock, items[line.item], line.quantity, site)
            _save_stock(stock)
            package = Package.objects.create(
                id=id,
                code=wanted_code,
                election=the_election,
                kind=kind,
                label=label.strip()[:80],
                origin=site,
                destination=destination,
                location=site,
                state=PackageState.PACKED,
                packed_at=now,
                packed_by=actor,
            )
            PackageLine.objects.bulk_create(
                PackageLine(package=package, item=items[x.item], quantity=x.quantity) for x in lines
            )
            Seal.objects.bulk_create(
                Seal(
                    serial=s,
                    package=package,
                    state=SealState.APPLIED,
                    applied_at=now,
                    applied_by=actor,
                    changed_at=now,
                )
                for s in serials
            )
            ledger.append_many(
                [
                    _fact(
                        "package.packed",
                        package,
                        actor,
                        site,
                        {
                            "code": package.code,
                            "destination": str(destination.pk),
                            "lines": [[items[x.item].pk, x.quantity] for x in lines],
                            "seals": serials,
                        },
                    )
                ]
            )
    except IntegrityError:
        # Lost a race: someone applied one of these serials, or took the code, meanwhile.
        _refuse_reused(serials)
        raise Conflict(
            "package_code_taken",
            _("This package code is taken."),
            detail={"code": wanted_code},
        ) from None
    return Created(package, created=True)


def _as_uuid(value: Any) -> Any:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value


# --- handover (BAST) ---------------------------------------------------------------------------


def _bound_for(to_site: Site, destination_region: str, *, is_destination: bool) -> bool:
    """Does a package for the TPS at ``destination_region`` belong at ``to_site`` — nearer its
    TPS, or, after voting, back up the chain that served it? ``is_destination``: ``to_site``
    is that TPS. Dispatch and the receiver's scans ask the same question."""
    if to_site.kind == SiteKind.TPS:
        return is_destination
    return in_subtree(destination_region, service_area(to_site))


def _refuse_wrong_destination(
    *,
    actor: User,
    id: uuid.UUID,
    wrong: list[Package],
    from_site: Site,
    to_site: Site,
    now: dt.datetime,
) -> None:
    """Record the attempt (a discrepancy and an alarm that stay, whatever the caller does next)
    and refuse it."""
    with transaction.atomic():
        for package in wrong:
            _raise_discrepancy(
                id=_derived_id(id, "wrong_destination", package.code),
                kind=DiscrepancyKind.WRONG_DESTINATION,
                site=from_site,
                actor=actor,
                now=now,
                package=package,
                detail={
                    "to_site": str(to_site.pk),
                    "to_site_name": to_site.name,
                    "destination": package.destination.code,
                },
            )
    raise Conflict(
        "wrong_destination",
        _("These packages are not bound for %(site)s.") % {"site": to_site.name},
        detail={
            "packages": [p.code for p in wrong],
            "destinations": [p.destination.code for p in wrong],
        },
    )


def dispatch_handover(
    *,
    actor: User,
    id: uuid.UUID,
    from_site_id: Any,
    to_site_id: Any,
    election: str,
    packages: Sequence[str] = (),
    lines: Sequence[Line] = (),
    witnesses: Sequence[Witness] = (),
    place: str = "",
    vehicle_plate: str = "",
    leg: str = Leg.OUTBOUND,
    now: dt.datetime | None = None,
) -> Created[Handover]:
    """The giver's side of a BAST: the packages (each with the seal serials it leaves with) and
    loose items leave the giver's site and are in transit until the receiver checks them."""
    now = now or timezone.now()
    existing = Handover.objects.filter(pk=id).first()
    if existing is not None:
        replay_or_conflict(
            existing, {"from_site_id": _as_uuid(from_site_id), "to_site_id": _as_uuid(to_site_id)}
        )
        return Created(existing, created=False)
    from_site = _site(actor, from_site_id, Action.RECORD_LOGISTICS, "logistics_out_of_scope")
    to_site = Site.objects.select_related("owner_unit").filter(pk=to_site_id).first()
    if to_site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(to_site_id)})
    if to_site.pk == from_site.pk:
        raise InvalidInput(
            "same_site", _("A handover goes from one site to another."), detail={"field": "to_site"}
        )
    if leg not in Leg.values:
        raise InvalidInput("leg_invalid", _("Unknown leg."), detail={"allowed": list(Leg.values)})
    the_election = _election(election)
    codes = [package_code(c) for c in packages]
    if not codes and not lines:
        raise InvalidInput(
            "handover_empty",
            _("A handover carries at least one package or item."),
            detail={"fields": ["packages", "lines"]},
        )
    _no_repeats(codes, "packages")
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.quantity, f"lines[{n}].quantity", positive=True)
    cleaned = _witnesses(witnesses)
    items = _items(the_election, (line.item for line in lines)) if lines else {}
    found = {
        p.code: p for p in Package.objects.select_related("destination").filter(code__in=codes)
    }
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise NotFound("package_unknown", _("No such package."), detail={"packages": unknown[:50]})
    away = [
        c
        for c in codes
        if found[c].location_id != from_site.pk
        or found[c].state not in (PackageState.PACKED, PackageState.RECEIVED)
    ]
    if away:
        raise Conflict(
            "package_not_here",
            _("These packages are not at %(site)s to hand over.") % {"site": from_site.name},
            detail={"packages": away[:50]},
        )
    wrong = [
        p
        for p in (found[c] for c in codes)
        if not _bound_for(
            to_site, p.destination.region_id, is_destination=to_site.pk == p.destination_id
        )
    ]
    if wrong:
        _refuse_wrong_destination(
            actor=actor, id=id, wrong=wrong, from_site=from_site, to_site=to_site, now=now
        )
    with transaction.atomic():
        # Locked and read again: the state counts as it is when the write begins.
        chosen = list(
            Package.objects.select_for_update().filter(code__in=codes, location=from_site)
        )
        if len(chosen) != len(codes):
            raise Conflict(
                "package_not_here",
                _("These packages are not at %(site)s to hand over.") % {"site": from_site.name},
                detail={"packages": sorted(set(codes) - {p.code for p in chosen})},
            )
        if items:
            stock = _stock_rows(from_site, items.values())
            for line in lines:
                _take(stock, items[line.item], line.quantity, from_site)
            _save_stock(stock)
        handover = Handover.objects.create(
            id=id,
            number=f"BAST-{now:%Y%m%d}-{id.hex[-8:].upper()}",
            election=the_election,
            leg=leg,
            from_site=from_site,
            to_site=to_site,
            state=HandoverState.DISPATCHED,
            giver=actor,
            witnesses=cleaned,
            place=place.strip()[:150],
            vehicle_plate=vehicle_plate.strip().upper()[:15],
            dispatched_at=now,
        )
        seals: dict[uuid.UUID, list[str]] = {p.pk: [] for p in chosen}
        for serial, package_id in Seal.objects.filter(
            package__in=chosen, state__in=(SealState.APPLIED, SealState.VERIFIED)
        ).values_list("serial", "package_id"):
            seals[package_id].append(serial)
        HandoverPackage.objects.bulk_create(
            HandoverPackage(handover=handover, package=p, seals=sorted(seals[p.pk])) for p in chosen
        )
        HandoverLine.objects.bulk_create(
            HandoverLine(handover=handover, item=items[x.item], quantity=x.quantity) for x in lines
        )
        Package.objects.filter(pk__in=[p.pk for p in chosen]).update(
            location=None, state=PackageState.IN_TRANSIT, handover=handover, updated_at=now
        )
        entry = ledger.append_many(
            [
                _fact(
                    "handover.dispatched",
                    handover,
                    actor,
                    from_site,
                    {
                        "number": handover.number,
                        "leg": leg,
                        "to_site": str(to_site.pk),
                        "packages": sorted(str(p.pk) for p in chosen),
                        "seals": {p.code: sorted(seals[p.pk]) for p in chosen},
                        "lines": [[items[x.item].pk, x.quantity] for x in lines],
                        "witnesses": cleaned,
                    },
                )
            ]
        )[0]
        handover.dispatch_seq = entry.seq
        handover.save(update_fields=["dispatch_seq"])
    return Created(handover, created=True)


# --- scans -------------------------------------------------------------------------------------

SCAN_BATCH_MAX = 5000


@dataclass(frozen=True)
class ScanIn:
    """One scan: a package code (``receive``) or a seal serial (``seal``) read while receiving
    ``handover_id``. ``package`` names the package a seal sits on, when the phone knows it."""

    id: uuid.UUID
    action: str
    code: str
    handover_id: uuid.UUID
    at: dt.datetime | None = None
    package: str = ""


@dataclass
class ScanOutcome:
    id: uuid.UUID
    status: int
    error: str = ""
    message: str = ""
    package: str | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400


_SCAN_MESSAGES: dict[str, Any] = {
    "": _("Recorded."),
    "already_received": _("This package was already received."),
    "already_verified": _("This seal was already verified."),
    "handover_unknown": _("No such handover."),
    "handover_out_of_scope": _("You may not receive this handover."),
    "handover_closed": _("This handover has been closed."),
    "package_unknown": _("No such package."),
    "not_on_handover": _("This package is not on this handover."),
    "wrong_destination": _("This package is not bound for this site."),
    "seal_unknown": _("No such seal."),
    "seal_mismatch": _("This seal is not one this package left with."),
    "scan_invalid": _("A scan needs an action (receive or seal), a code and a handover."),
    "id_reused": _("This id was already used for a different scan."),
}


_SCAN_ACTIONS = frozenset(ScanAction.values)


def _outcome(
    scan_id: uuid.UUID, status: int, error: str = "", package: str | None = None
) -> ScanOutcome:
    return ScanOutcome(scan_id, status, error, str(_SCAN_MESSAGES[error]), package)


def ingest_scans(
    *, actor: User, scans: Sequence[ScanIn], now: dt.datetime | None = None
) -> list[ScanOutcome]:
    """A batch of scans from a receiver's phone or scanner. Each scan is answered on its own —
    the good ones are kept when others are refused — and a scan id sent again gets its first
    answer. One transaction, one read of each kind of row and one write of each for the whole
    batch, in plain SQL: this is the hot path of distribution days (``bench/custody.py``)."""
    now = now or timezone.now()
    if len(scans) > SCAN_BATCH_MAX:
        raise InvalidInput(
            "batch_too_large",
            _("Send at most %(n)d scans at a time.") % {"n": SCAN_BATCH_MAX},
            detail={"max": SCAN_BATCH_MAX},
        )
    outcomes: dict[uuid.UUID, ScanOutcome] = {}
    valid: list[ScanIn] = []
    seen_ids: set[uuid.UUID] = set()
    for scan in scans:
        if scan.id in seen_ids:
            continue  # the same scan twice in one batch: answered once, below
        seen_ids.add(scan.id)
        seal = scan.action == ScanAction.SEAL
        code = seal_serial(scan.code) if seal else package_code(scan.code)
        if (
            scan.action not in _SCAN_ACTIONS
            or not code
            or len(code) > 80
            or (seal and not _SERIAL.match(code))
        ):
            # A seal serial that cannot be one (a mistyped or misread code) is not evidence
            # of a swapped seal: it is refused as input, not raised as a discrepancy.
            outcomes[scan.id] = _outcome(scan.id, 422, "scan_invalid")
            continue
        valid.append(
            ScanIn(
                scan.id, scan.action, code, scan.handover_id, scan.at, package_code(scan.package)
            )
        )
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                _ingest(actor, valid, now, outcomes)
            break
        except IntegrityError:
            # Another request recorded some of these scan ids meanwhile: read them again.
            if attempt == 2:
                raise
            for scan in valid:
                outcomes.pop(scan.id, None)
    return [outcomes[s.id] for s in scans if s.id in outcomes]


@dataclass(slots=True)
class _Pkg:
    """A package as the batch needs it; ``key`` and ``destination`` are ids as the batch's
    queries give them (``_Batch.uuid``): strings, quick to hash and to send back."""

    key: Any
    code: str
    destination: Any
    destination_region: str

    @property
    def id(self) -> str:
        return _canonical(self.key)


@dataclass(slots=True)
class _Part:
    """A package's line on a BAST. Its seal lists are read from JSON only when a seal scan
    needs them: a receipt batch changes ``received`` alone and writes the list back as read."""

    id: int
    stored_seals: Any  # as the database gives JSON: text, or already a list
    received: bool
    stored_seen: Any
    parsed_seals: list[str] | None = None
    parsed_seen: list[str] | None = None

    @property
    def seals(self) -> list[str]:
        if self.parsed_seals is None:
            self.parsed_seals = _as_list(self.stored_seals)
        return self.parsed_seals

    @property
    def seals_seen(self) -> list[str]:
        if self.parsed_seen is None:
            self.parsed_seen = _as_list(self.stored_seen)
        return self.parsed_seen

    def seen_json(self) -> str:
        if self.parsed_seen is None and isinstance(self.stored_seen, str):
            return self.stored_seen
        return json.dumps(sorted(self.seals_seen))


@dataclass(slots=True)
class _SealRow:
    serial: str
    package: Any  # database value
    state: str


def _canonical(key: Any) -> str:
    """An id as the batch holds it, as text with dashes (as ``str(uuid)`` writes it)."""
    if isinstance(key, uuid.UUID) or len(key) == 36:
        return str(key)
    return f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:]}"


def _id_text(column: str) -> str:
    """A uuid column read as text: its text form on PostgreSQL (not a ``uuid.UUID``, whose
    hash is computed in Python on every dictionary look-up), its stored hex on SQLite."""
    return f"{column}::text" if bulk.postgres() else column


@dataclass(slots=True)
class _Leg:
    """A handover as each of its scans needs it, worked out once per batch."""

    handover: Handover
    key: Any  # database value
    to_site: Any  # database value
    text: str
    site_text: str
    unit: str
    allowed: bool  # the user may sign for its receiver


def _as_list(value: Any) -> list[str]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


class _Batch:
    """What one batch of scans reads once and writes once."""

    def __init__(self, actor: User, now: dt.datetime) -> None:
        self.actor = actor
        self.now = now
        self.scan_rows: list[tuple[Any, ...]] = []
        self.received: dict[Any, tuple[Site, dt.datetime]] = {}
        self.verified: dict[str, dt.datetime] = {}
        self.parts_changed: dict[int, _Part] = {}
        self.facts: list[ledger.Fact] = []
        self.trouble: list[tuple[str, Handover, _Pkg | None, dict[str, Any]]] = []
        self.connection = connections[DEFAULT_DB_ALIAS]
        # Ids as the batch's queries read them (``_id_text``) and as its writes send them.
        self.uuid = (
            (lambda u: None if u is None else str(u))
            if bulk.postgres()
            else (lambda u: u.hex if u else None)
        )
        self.times: dict[dt.datetime, Any] = {}
        self.messages: dict[str, str] = {}

    def time(self, at: dt.datetime) -> Any:
        if at not in self.times:
            self.times[at] = self.connection.ops.adapt_datetimefield_value(at)
        return self.times[at]

    def outcome(
        self, scan_id: uuid.UUID, status: int, error: str = "", package: str | None = None
    ) -> ScanOutcome:
        if error not in self.messages:
            self.messages[error] = str(_SCAN_MESSAGES[error])
        return ScanOutcome(scan_id, status, error, self.messages[error], package)


def _read(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _ingest(
    actor: User, scans: list[ScanIn], now: dt.datetime, outcomes: dict[uuid.UUID, ScanOutcome]
) -> None:
    batch = _Batch(actor, now)
    ids = [batch.uuid(s.id) for s in scans]
    condition, params = bulk.where_in('"id"', ids, "uuid")
    earlier = {
        pk: (action, code, status, error)
        for pk, action, code, status, error in _read(
            f'SELECT {_id_text('"id"')}, "action", "code", "status", "error" '  # noqa: S608
            f'FROM "{Scan._meta.db_table}" '
            f"WHERE {condition}",
            params,
        )
    }
    fresh: list[ScanIn] = []
    fresh_keys: list[Any] = []  # their ids as the database takes them
    for scan, key in zip(scans, ids, strict=True):
        first = earlier.get(key)
        if first is None:
            fresh.append(scan)
            fresh_keys.append(key)
        elif (first[0], first[1]) != (scan.action, scan.code):
            outcomes[scan.id] = batch.outcome(scan.id, 409, "id_reused")
        else:
            outcomes[scan.id] = batch.outcome(
                scan.id, 200 if first[2] < 400 else first[2], first[3]
            )
    if not fresh:
        return
    handovers = {
        h.pk: h
        for h in Handover.objects.select_for_update(of=("self",))
        .select_related("to_site__owner_unit")
        .filter(pk__in={s.handover_id for s in fresh})
    }
    legs = {
        pk: _Leg(
            h,
            batch.uuid(pk),
            batch.uuid(h.to_site_id),
            str(pk),
            str(h.to_site_id),
            unit_covering(actor, h.to_site.region_id),
            user_can(actor, Action.SIGN_HANDOVER, h.to_site.region_id),
        )
        for pk, h in handovers.items()
    }
    serials = [s.code for s in fresh if s.action == ScanAction.SEAL]
    condition, params = bulk.where_in('"serial"', serials, "text")
    seals = {
        serial: _SealRow(serial, package, state)
        for serial, package, state in _read(
            f'SELECT "serial", {_id_text('"package_id"')}, "state" '  # noqa: S608
            f'FROM "{Seal._meta.db_table}" '
            f"WHERE {condition}",
            params,
        )
    }
    codes = sorted(
        {s.code for s in fresh if s.action == ScanAction.RECEIVE}
        | {s.package for s in fresh if s.package}
    )
    by_code = _packages("code", codes, "text")
    more = {s.package for s in seals.values()} - {p.key for p in by_code.values()}
    by_key = {p.key: p for p in by_code.values()}
    by_key.update({p.key: p for p in _packages("id", list(more), "uuid").values()})
    packages = {p.code: p for p in by_key.values()}
    parts = _parts([leg.key for leg in legs.values()], list(by_key))
    for scan, key in zip(fresh, fresh_keys, strict=True):
        leg = legs.get(scan.handover_id)
        if leg is None:
            outcomes[scan.id] = batch.outcome(scan.id, 404, "handover_unknown")
            continue
        if not leg.allowed:
            outcomes[scan.id] = batch.outcome(scan.id, 403, "handover_out_of_scope")
            continue
        if leg.handover.state != HandoverState.DISPATCHED:
            outcome = batch.outcome(scan.id, 409, "handover_closed")
        elif scan.action == ScanAction.RECEIVE:
            outcome = _receive_scan(
                batch, scan, _canonical(key), leg, packages.get(scan.code), parts
            )
        else:
            outcome = _seal_scan(
                batch, scan, _canonical(key), leg, seals.get(scan.code), by_key, packages, parts
            )
        outcomes[scan.id] = outcome
        package = packages.get(outcome.package or "")
        batch.scan_rows.append(
            (
                key,
                scan.action,
                scan.code,
                leg.to_site,
                leg.key,
                package.key if package else None,
                actor.pk,
                batch.time(scan.at or now),
                outcome.status,
                outcome.error,
            )
        )
    _write_batch(batch)


def _packages(column: str, values: list[Any], cast: str) -> dict[str, _Pkg]:
    condition, params = bulk.where_in(f'p."{column}"', values, cast)
    rows = _read(
        f'SELECT {_id_text('p."id"')}, p."code", {_id_text('p."destination_id"')}, '  # noqa: S608
        'd."region_id" '
        f'FROM "{Package._meta.db_table}" p JOIN "{Site._meta.db_table}" d '
        f'ON d."id" = p."destination_id" WHERE {condition}',
        params,
    )
    return {code: _Pkg(pk, code, dest, region) for pk, code, dest, region in rows}


def _parts(handovers: list[Any], packages: list[Any]) -> dict[tuple[Any, Any], _Part]:
    """The BAST lines of these packages on these handovers (database values as keys)."""
    if not handovers or not packages:
        return {}
    on_handover, first = bulk.where_in('"handover_id"', handovers, "uuid")
    on_package, second = bulk.where_in('"package_id"', packages, "uuid")
    rows = _read(
        f'SELECT "id", {_id_text('"handover_id"')}, {_id_text('"package_id"')}, '  # noqa: S608
        '"seals", "received", "seals_seen" '
        f'FROM "{HandoverPackage._meta.db_table}" WHERE {on_handover} AND {on_package}',
        first + second,
    )
    return {
        (handover, package): _Part(pk, seals, bool(received), seen)
        for pk, handover, package, seals, received, seen in rows
    }


def _scan_fact(
    kind: str, subject: tuple[str, str], batch: _Batch, leg: _Leg, **payload: Any
) -> ledger.Fact:
    return ledger.Fact(
        kind=f"logistics.{kind}",
        subject_type=subject[0],
        subject_id=subject[1],
        payload={"site": leg.site_text, "handover": leg.text, **payload},
        actor=batch.actor.username,
        unit=leg.unit,
        region=leg.handover.to_site.region_id,
    )


def _receive_scan(
    batch: _Batch,
    scan: ScanIn,
    scan_text: str,
    leg: _Leg,
    package: _Pkg | None,
    parts: dict[tuple[Any, Any], _Part],
) -> ScanOutcome:
    if package is None:
        return batch.outcome(scan.id, 404, "package_unknown")
    handover = leg.handover
    part = parts.get((leg.key, package.key))
    if part is None:
        bound = _bound_for(
            handover.to_site,
            package.destination_region,
            is_destination=leg.to_site == package.destination,
        )
        kind = "not_on_handover" if bound else "wrong_destination"
        batch.trouble.append((kind, handover, package, {"code": package.code}))
        return batch.outcome(scan.id, 409, kind, package.code)
    if part.received or package.key in batch.received:
        return batch.outcome(scan.id, 200, "already_received", package.code)
    part.received = True
    batch.parts_changed[part.id] = part
    batch.received[package.key] = (handover.to_site, scan.at or batch.now)
    batch.facts.append(
        _scan_fact(
            "package.received",
            ("logistics.package", package.id),
            batch,
            leg,
            code=package.code,
            scan=scan_text,
        )
    )
    return batch.outcome(scan.id, 201, "", package.code)


def _seal_scan(
    batch: _Batch,
    scan: ScanIn,
    scan_text: str,
    leg: _Leg,
    seal: _SealRow | None,
    by_key: dict[Any, _Pkg],
    packages: dict[str, _Pkg],
    parts: dict[tuple[Any, Any], _Part],
) -> ScanOutcome:
    handover = leg.handover
    named = packages.get(scan.package) if scan.package else None
    named_here = named is not None and (leg.key, named.key) in parts
    if seal is None:
        if named is None or not named_here:
            return batch.outcome(scan.id, 404, "seal_unknown", named.code if named else None)
        # A serial SIAGA never issued, on a package of this handover: not the seal it left with.
        batch.trouble.append(("seal_mismatch", handover, named, {"seen": scan.code}))
        return batch.outcome(scan.id, 409, "seal_mismatch", named.code)
    package = by_key[seal.package]
    part = parts.get((leg.key, package.key))
    if part is None:
        # A seal of a package that is not on this handover: on the package named, if any of
        # this handover's, it is the wrong seal.
        if named is not None and named_here:
            batch.trouble.append(("seal_mismatch", handover, named, {"seen": scan.code}))
            return batch.outcome(scan.id, 409, "seal_mismatch", named.code)
        return batch.outcome(scan.id, 409, "seal_mismatch", package.code)
    if seal.serial not in part.seals or seal.state in (SealState.BROKEN, SealState.VOID):
        batch.trouble.append(("seal_mismatch", handover, package, {"seen": scan.code}))
        return batch.outcome(scan.id, 409, "seal_mismatch", package.code)
    if seal.serial in part.seals_seen or seal.serial in batch.verified:
        return batch.outcome(scan.id, 200, "already_verified", package.code)
    part.seals_seen.append(seal.serial)
    batch.parts_changed[part.id] = part
    batch.verified[seal.serial] = scan.at or batch.now
    batch.facts.append(
        _scan_fact(
            "seal.verified",
            ("logistics.seal", seal.serial),
            batch,
            leg,
            package=package.id,
            scan=scan_text,
        )
    )
    return batch.outcome(scan.id, 201, "", package.code)


# The scan row's columns as PostgreSQL types them, for COPY's binary form.
_SCAN_TYPES = (
    "uuid",
    "varchar",
    "varchar",
    "uuid",
    "uuid",
    "uuid",
    "int8",
    "timestamptz",
    "int2",
    "varchar",
)


def _write_batch(batch: _Batch) -> None:
    now = batch.time(batch.now)
    with connection.cursor() as cursor:
        bulk.update(
            cursor,
            Package._meta.db_table,
            "id",
            ["location_id", "state", "updated_at", "received_at_tps"],
            ["uuid", "text", "timestamptz", "timestamptz", "uuid"],
            [
                (
                    batch.uuid(site.pk),
                    PackageState.RECEIVED,
                    now,
                    batch.time(at) if site.kind == SiteKind.TPS else None,
                    package_key,
                )
                for package_key, (site, at) in batch.received.items()
            ],
            keep=["received_at_tps"],
        )
        bulk.update(
            cursor,
            Seal._meta.db_table,
            "serial",
            ["state", "changed_at"],
            ["text", "timestamptz", "text"],
            [(SealState.VERIFIED, batch.time(at), serial) for serial, at in batch.verified.items()],
        )
        bulk.update(
            cursor,
            HandoverPackage._meta.db_table,
            "id",
            ["received", "seals_seen"],
            ["boolean", "jsonb", "bigint"],
            [(part.received, part.seen_json(), part.id) for part in batch.parts_changed.values()],
        )
        bulk.insert(
            cursor,
            Scan._meta.db_table,
            [
                "id",
                "action",
                "code",
                "site_id",
                "handover_id",
                "package_id",
                "by_id",
                "at",
                "status",
                "error",
            ],
            batch.scan_rows,
            types=_SCAN_TYPES,
        )
    if batch.facts:
        ledger.append_many(batch.facts, returning=False)
    for trouble, handover, package, detail in batch.trouble:
        kind = DiscrepancyKind.EXTRA_PACKAGE if trouble == "not_on_handover" else trouble
        found = Package.objects.get(pk=package.id) if package is not None else None
        _raise_discrepancy(
            id=_derived_id(handover.pk, kind, package.code if package else "", str(detail)),
            kind=kind,
            site=handover.to_site,
            actor=batch.actor,
            now=batch.now,
            handover=handover,
            package=found,
            detail=detail,
        )


# --- receiving a handover, resealing, resolving ------------------------------------------------


def receive_handover(
    *,
    actor: User,
    handover_id: Any,
    lines: Sequence[Line] = (),
    note: str = "",
    now: dt.datetime | None = None,
) -> Handover:
    """The receiver signs the BAST after scanning: every package not scanned is missing, every
    seal not verified is a mismatch, every loose item counted short is a shortfall — each a
    discrepancy with an alarm. Loose items counted go into the receiver's stock. Signing again
    changes nothing."""
    now = now or timezone.now()
    handover = (
        Handover.objects.select_related("to_site", "from_site", "election")
        .filter(pk=_as_uuid(handover_id))
        .first()
        if _is_uuid(handover_id)
        else None
    )
    if handover is None:
        raise NotFound("handover_unknown", _("No such handover."))
    if not user_can(actor, Action.SIGN_HANDOVER, handover.to_site.region_id):
        raise PermissionDenied("handover_out_of_scope", _("You may not receive this handover."))
    if handover.state != HandoverState.DISPATCHED:
        return handover
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.quantity, f"lines[{n}].quantity")
    to_site = handover.to_site
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.state != HandoverState.DISPATCHED:
            return handover
        handover.to_site = to_site
        given = {
            hl.item.code: hl
            for hl in HandoverLine.objects.select_related("item").filter(handover=handover)
        }
        counted = {line.item: line.quantity for line in lines}
        strange = sorted(set(counted) - set(given))
        if strange:
            raise InvalidInput(
                "item_not_on_handover",
                _("These items are not on this handover."),
                detail={"items": strange},
            )
        if given:
            stock = _stock_rows(to_site, [hl.item for hl in given.values()])
            for code, hl in given.items():
                hl.received = counted.get(code, hl.quantity)
                stock[hl.item_id].quantity += hl.received
            _save_stock(stock)
            HandoverLine.objects.bulk_update(given.values(), ["received"])
        mismatched = set(
            Discrepancy.objects.filter(
                handover=handover, kind=DiscrepancyKind.SEAL_MISMATCH
            ).values_list("package_id", flat=True)
        )
        found: list[Discrepancy] = []
        for part in HandoverPackage.objects.select_related("package").filter(handover=handover):
            if not part.received:
                found.append(
                    _raise_discrepancy(
                        id=_derived_id(handover.pk, "missing", part.package.code),
                        kind=DiscrepancyKind.MISSING_PACKAGE,
                        site=to_site,
                        actor=actor,
                        now=now,
                        handover=handover,
                        package=part.package,
                    )
                )
                continue
            unverified = sorted(set(part.seals) - set(part.seals_seen))
            if unverified and part.package_id not in mismatched:
                found.append(
                    _raise_discrepancy(
                        id=_derived_id(handover.pk, "unverified", part.package.code),
                        kind=DiscrepancyKind.SEAL_MISMATCH,
                        site=to_site,
                        actor=actor,
                        now=now,
                        handover=handover,
                        package=part.package,
                        detail={"not_verified": unverified},
                    )
                )
        for code, hl in given.items():
            if hl.received is not None and hl.received < hl.quantity:
                found.append(
                    _raise_discrepancy(
                        id=_derived_id(handover.pk, "shortfall", code),
                        kind=DiscrepancyKind.SHORTFALL,
                        site=to_site,
                        actor=actor,
                        now=now,
                        handover=handover,
                        item=hl.item,
                        quantity=hl.quantity - hl.received,
                        detail={"sent": hl.quantity, "received": hl.received},
                    )
                )
        any_open = found or Discrepancy.objects.filter(handover=handover).exists()
        handover.state = HandoverState.DISCREPANT if any_open else HandoverState.RECEIVED
        handover.receiver = actor
        handover.received_at = now
        entry = ledger.append_many(
            [
                _fact(
                    "handover.received",
                    handover,
                    actor,
                    to_site,
                    {
                        "number": handover.number,
                        "state": handover.state,
                        "lines": [[hl.item_id, hl.received] for hl in given.values()],
                        "discrepancies": sorted(str(d.pk) for d in found),
                        "note": note[:500],
                    },
                )
            ]
        )[0]
        handover.receive_seq = entry.seq
        handover.save(
            update_fields=["state", "receiver", "received_at", "receive_seq", "updated_at"]
        )
    return handover


def _is_uuid(value: Any) -> bool:
    return isinstance(_as_uuid(value), uuid.UUID)


def reseal_package(
    *,
    actor: User,
    id: uuid.UUID,
    package: str,
    new_seals: Sequence[str],
    counted: Sequence[Line],
    witnesses: Sequence[Witness],
    note: str = "",
    now: dt.datetime | None = None,
) -> Package:
    """A package opened in front of witnesses: its contents counted, its old seals recorded as
    broken, new seals applied. Counted short becomes a shortfall discrepancy."""
    now = now or timezone.now()
    code = package_code(package)
    found = (
        Package.objects.select_related("location", "election", "destination")
        .filter(code=code)
        .first()
    )
    if found is None or not user_can(actor, Action.VIEW, found.destination.region_id):
        raise NotFound("package_unknown", _("No such package."), detail={"package": code})
    site = found.location
    if site is None:
        raise Conflict(
            "package_in_transit",
            _("A package in transit is opened where it arrives, not on the road."),
        )
    if not user_can(actor, Action.RECORD_LOGISTICS, site.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This site is outside your scope."))
    if Entry.objects.filter(entry_id=id).exists():
        return found  # this reseal was recorded already (its ledger entry bears its id)
    cleaned = _witnesses(witnesses)
    if not {"bawaslu", "polri"} & {w["agency"] for w in cleaned}:
        raise InvalidInput(
            "witnesses_required",
            _("A package is opened before a police or Bawaslu witness."),
            detail={"field": "witnesses"},
        )
    if not new_seals:
        raise InvalidInput("seals_required", _("Close the package with at least one new seal."))
    serials = _check_serials(new_seals, "new_seals")
    _no_repeats([line.item for line in counted], "counted")
    for n, line in enumerate(counted):
        _quantity(line.quantity, f"counted[{n}].quantity")
    items = _items(found.election, (line.item for line in counted))
    _refuse_reused(serials)
    try:
        _reseal(actor, id, found, site, serials, counted, items, cleaned, note, now)
    except IntegrityError:
        # Lost a race: the same form posted twice at once, or a serial applied meanwhile.
        if Entry.objects.filter(entry_id=id).exists():
            return found
        _refuse_reused(serials)
        raise
    return found


def _reseal(
    actor: User,
    id: uuid.UUID,
    found: Package,
    site: Site,
    serials: list[str],
    counted: Sequence[Line],
    items: dict[str, ItemType],
    cleaned: list[dict[str, str]],
    note: str,
    now: dt.datetime,
) -> None:
    with transaction.atomic():
        packed = {pl.item_id: pl for pl in PackageLine.objects.filter(package=found)}
        short = []
        for line in counted:
            item = items[line.item]
            before = packed[item.pk].quantity if item.pk in packed else 0
            if line.quantity < before:
                short.append((item, before - line.quantity))
            if item.pk in packed:
                packed[item.pk].quantity = line.quantity
        PackageLine.objects.bulk_update(packed.values(), ["quantity"])
        broken = sorted(
            Seal.objects.filter(
                package=found, state__in=(SealState.APPLIED, SealState.VERIFIED)
            ).values_list("serial", flat=True)
        )
        Seal.objects.filter(serial__in=broken).update(state=SealState.BROKEN, changed_at=now)
        Seal.objects.bulk_create(
            Seal(
                serial=s,
                package=found,
                state=SealState.APPLIED,
                applied_at=now,
                applied_by=actor,
                changed_at=now,
            )
            for s in serials
        )
        # A BAST still open now expects the new seals, and has seen them; a signed one keeps
        # what it carried and what its receiver verified.
        HandoverPackage.objects.filter(
            package=found, handover=found.handover_id, handover__state=HandoverState.DISPATCHED
        ).update(seals=serials, seals_seen=serials)
        ledger.append_many(
            [
                _fact(
                    "package.resealed",
                    found,
                    actor,
                    site,
                    {
                        "code": found.code,
                        "broken": broken,
                        "applied": serials,
                        "counted": [[items[x.item].pk, x.quantity] for x in counted],
                        "witnesses": cleaned,
                        "note": note[:500],
                    },
                    id=id,
                )
            ]
        )
        for item, missing in short:
            _raise_discrepancy(
                id=_derived_id(id, "short", item.code),
                kind=DiscrepancyKind.SHORTFALL,
                site=site,
                actor=actor,
                now=now,
                package=found,
                item=item,
                quantity=missing,
            )


def resolve_discrepancy(
    *, actor: User, discrepancy_id: Any, resolution: str, now: dt.datetime | None = None
) -> Discrepancy:
    """Close a discrepancy with what was done about it; the alarm clears with the last one."""
    now = now or timezone.now()
    found = (
        Discrepancy.objects.select_related("site").filter(pk=_as_uuid(discrepancy_id)).first()
        if _is_uuid(discrepancy_id)
        else None
    )
    if found is None:
        raise NotFound("discrepancy_unknown", _("No such discrepancy."))
    if not user_can(actor, Action.RECORD_LOGISTICS, found.site.region_id):
        raise PermissionDenied("logistics_out_of_scope", _("This site is outside your scope."))
    text = resolution.strip()
    if not text:
        raise InvalidInput(
            "resolution_required", _("Say how it was resolved."), detail={"field": "resolution"}
        )
    if found.state == DiscrepancyState.RESOLVED:
        return found
    with transaction.atomic():
        found = Discrepancy.objects.select_for_update().select_related("site").get(pk=found.pk)
        if found.state == DiscrepancyState.RESOLVED:
            return found
        found.state = DiscrepancyState.RESOLVED
        found.resolved_at = now
        found.resolved_by = actor
        found.resolution = text[:500]
        found.save(
            update_fields=["state", "resolved_at", "resolved_by", "resolution", "updated_at"]
        )
        ledger.append_many(
            [
                _fact(
                    "discrepancy.resolved",
                    found,
                    actor,
                    found.site,
                    {"resolution": found.resolution},
                )
            ]
        )
        if (
            found.alarm_id
            and not Discrepancy.objects.filter(
                alarm_id=found.alarm_id, state=DiscrepancyState.OPEN
            ).exists()
        ):
            alarm = Alarm.objects.filter(pk=found.alarm_id).first()
            if alarm is not None and alarm.active:
                alarms.clear_alarm(source=alarm.source, key=alarm.key, actor=actor, now=now)
    return found

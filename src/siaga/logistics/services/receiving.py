"""Receipts from vendors, sortir-lipat sessions and destructions at a warehouse."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.core.errors import Conflict, InvalidInput
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.validators import check_in_window, normalise_plate
from siaga.ledger import services as ledger
from siaga.logistics.choices import (
    DiscrepancyKind,
)
from siaga.logistics.models import (
    Destruction,
    Election,
    ItemType,
    Receipt,
    ReceiptLine,
    SortingLine,
    SortingSession,
)
from siaga.logistics.services.common import (
    DestructionLineIn,
    ReceiptLineIn,
    SortingLineIn,
    Witness,
    _derived_id,
    _election,
    _fact,
    _items,
    _no_repeats,
    _quantity,
    _raise_discrepancy,
    _save_stock,
    _site,
    _stock_rows,
    _take,
    _witnesses,
)
from siaga.sites.models import Site


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
    check_in_window(now, the_election.voting_day, field="received_at")
    if not vendor.strip() or not delivery_note.strip():
        raise InvalidInput(
            "receipt_incomplete",
            _("A receipt needs the vendor and the delivery note number."),
            detail={"fields": ["vendor", "delivery_note"]},
        )
    plate = normalise_plate(vehicle_plate)
    if not lines:
        raise InvalidInput(
            "items_required",
            _("A receipt lists at least one item that arrived."),
            detail={"field": "lines"},
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
    vendor_name, note_number = vendor.strip()[:150], delivery_note.strip()[:60]
    _refuse_note_taken(vendor_name, note_number)
    try:
        with transaction.atomic():
            receipt = _record_receipt(
                actor,
                id,
                site,
                the_election,
                vendor_name,
                note_number,
                plate,
                lines,
                items,
                note,
                now,
            )
    except IntegrityError:
        # Lost a race: the same note was recorded meanwhile (the constraint holds the line).
        _refuse_note_taken(vendor_name, note_number)
        raise
    return Created(receipt, created=True)


def _refuse_note_taken(vendor: str, delivery_note: str) -> None:
    taken = Receipt.objects.filter(
        vendor__iexact=vendor, delivery_note__iexact=delivery_note
    ).first()
    if taken is not None:
        raise Conflict(
            "delivery_note_exists",
            _("Delivery note %(note)s of %(vendor)s was received already, at %(site)s.")
            % {"note": taken.delivery_note, "vendor": taken.vendor, "site": taken.site.name},
            detail={"delivery_note": taken.delivery_note, "receipt": str(taken.pk)},
        )


def _record_receipt(
    actor: User,
    id: uuid.UUID,
    site: Site,
    the_election: Election,
    vendor: str,
    delivery_note: str,
    plate: str,
    lines: Sequence[ReceiptLineIn],
    items: dict[str, ItemType],
    note: str,
    now: dt.datetime,
) -> Receipt:
    receipt = Receipt.objects.create(
        id=id,
        site=site,
        election=the_election,
        vendor=vendor,
        delivery_note=delivery_note,
        vehicle_plate=plate,
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
                    "lines": [[items[x.item].pk, x.expected, x.counted, x.damaged] for x in lines],
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
    return receipt


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
    check_in_window(started_at, the_election.voting_day, field="started_at")
    check_in_window(ended_at, the_election.voting_day, field="ended_at")
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
    check_in_window(now, the_election.voting_day, field="at")
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

"""The BAST: the giver dispatches, the receiver signs for what arrived."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.validators import check_in_window, normalise_plate
from siaga.ledger import services as ledger
from siaga.logistics.choices import (
    DiscrepancyKind,
    HandoverState,
    Leg,
    PackageState,
    SealState,
)
from siaga.logistics.models import (
    Discrepancy,
    Handover,
    HandoverLine,
    HandoverPackage,
    Package,
    Seal,
)
from siaga.logistics.services.common import (
    Line,
    ReceivedLine,
    Witness,
    _as_uuid,
    _derived_id,
    _election,
    _fact,
    _is_uuid,
    _items,
    _no_repeats,
    _quantity,
    _raise_discrepancy,
    _save_stock,
    _site,
    _stock_rows,
    _take,
    _witnesses,
    package_code,
)
from siaga.logistics.services.packing import service_area
from siaga.notify import services as notify
from siaga.regions.codes import in_subtree
from siaga.regions.timezones import time_zone_of
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site


def _bound_for(to_site: Site, destination_region: str, *, is_destination: bool) -> bool:
    """Does a package for the TPS at ``destination_region`` belong at ``to_site`` — nearer its
    TPS, or, after voting, back up the chain that served it? ``is_destination``: ``to_site``
    is that TPS. Dispatch and the receiver's scans ask the same question."""
    if to_site.kind == SiteKind.TPS:
        return is_destination
    return in_subtree(destination_region, service_area(to_site))


def _refuse_wrong_destination(wrong: list[Package], to_site: Site) -> None:
    """Refuse a dispatch with packages not bound for ``to_site``. Nothing is written: the
    operator is told which packages and where they belong, and sends them the right way."""
    raise Conflict(
        "wrong_destination",
        _(
            "Not sent: these packages are not bound for %(site)s. %(packages)s. "
            "Nothing was recorded; take them off this BAST or choose their own PPK."
        )
        % {
            "site": to_site.name,
            "packages": "; ".join(
                _("%(code)s is for %(tps)s") % {"code": p.code, "tps": p.destination.name}
                for p in wrong
            ),
        },
        detail={
            "packages": [p.code for p in wrong],
            "destinations": [p.destination.code for p in wrong],
        },
    )


def _check_witnesses(leg: str, cleaned: list[dict[str, str]]) -> None:
    """A BAST is signed before witnesses: at least one on the way out, and on the way back
    (counted ballots after voting) a police or Bawaslu one among them."""
    agencies = {w["agency"] for w in cleaned}
    if not cleaned:
        raise InvalidInput(
            "witnesses_required",
            _("A BAST needs at least one witness."),
            detail={"field": "witnesses", "leg": leg},
        )
    if leg == Leg.RETURN and not agencies & {"polri", "bawaslu"}:
        raise InvalidInput(
            "witnesses_required",
            _("A BAST on the return leg needs a police or Bawaslu witness."),
            detail={"field": "witnesses", "leg": leg},
        )


def _receivers(site: Site, giver: User) -> list[User]:
    """Who is told of a BAST on its way: the KPU operators of the receiving committee (the
    unit of the region the site serves), not the giver."""
    memberships = Membership.objects.filter(
        active=True,
        user__is_active=True,
        unit__region_id=service_area(site),
        role=Role.KPU_OPERATOR,
    ).exclude(user=giver)
    return list(User.objects.filter(pk__in=memberships.values("user_id")).order_by("pk"))


def _tell_receivers(handover: Handover, giver: User) -> None:
    """Inside the dispatch's transaction, through the outbox (delivered after commit)."""
    expected = handover.expected_at
    with translation.override("id"):
        title = _g("[SIAGA] BAST %(number)s on its way to %(site)s") % {
            "number": handover.number,
            "site": handover.to_site.name,
        }
        body = _g("From %(from)s. Expected arrival: %(expected)s.") % {
            "from": handover.from_site.name,
            "expected": expected.astimezone(time_zone_of(handover.to_site.region_id)).strftime(
                "%Y-%m-%d %H:%M"
            )
            if expected
            else _g("not given"),
        }
    for user in _receivers(handover.to_site, giver):
        notify.notify_user(
            user,
            kind="logistics.handover.dispatched",
            title=title,
            body=body,
            url=f"/logistik/custody/handovers/{handover.pk}/",
            data={
                "handover": str(handover.pk),
                "number": handover.number,
                "expected_at": expected.isoformat() if expected else None,
            },
            dedup_key=f"handover:{handover.pk}:dispatched",
            about=("logistics.handover", str(handover.pk)),
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
    expected_at: dt.datetime | None = None,
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
    check_in_window(now, the_election.voting_day, field="dispatched_at")
    if expected_at is not None:
        check_in_window(expected_at, the_election.voting_day, field="expected_at")
        if expected_at < now:
            raise InvalidInput(
                "expected_before_dispatch",
                _("The expected arrival is before the dispatch."),
                detail={"field": "expected_at"},
            )
    plate = normalise_plate(vehicle_plate)
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
    _check_witnesses(leg, cleaned)
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
        _refuse_wrong_destination(wrong, to_site)
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
            vehicle_plate=plate,
            dispatched_at=now,
            expected_at=expected_at,
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
                        "expected_at": expected_at.isoformat() if expected_at else None,
                    },
                )
            ]
        )[0]
        handover.dispatch_seq = entry.seq
        handover.save(update_fields=["dispatch_seq"])
        _tell_receivers(handover, actor)
    return Created(handover, created=True)


def receive_handover(
    *,
    actor: User,
    handover_id: Any,
    lines: Sequence[Line | ReceivedLine] = (),
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
    if handover.giver_id == actor.pk:
        raise Conflict(
            "receiver_is_giver",
            _("A handover needs two people: the one who handed it over cannot receive it."),
            detail={"handover": str(handover.pk)},
        )
    _no_repeats([line.item for line in lines], "lines")
    for n, line in enumerate(lines):
        _quantity(line.quantity, f"lines[{n}].quantity")
        if _quantity(getattr(line, "damaged", 0), f"lines[{n}].damaged") > line.quantity:
            raise InvalidInput(
                "damaged_exceeds_count",
                _("More damaged than received."),
                detail={"field": f"lines[{n}].damaged"},
            )
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
        damaged: dict[str, int] = {line.item: getattr(line, "damaged", 0) for line in lines}
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
                hl.damaged = damaged.get(code, 0)
                stock[hl.item_id].quantity += hl.received - hl.damaged
                stock[hl.item_id].damaged += hl.damaged
            _save_stock(stock)
            HandoverLine.objects.bulk_update(given.values(), ["received", "damaged"])
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
            if hl.damaged:
                found.append(
                    _raise_discrepancy(
                        id=_derived_id(handover.pk, "damaged", code),
                        kind=DiscrepancyKind.DAMAGED,
                        site=to_site,
                        actor=actor,
                        now=now,
                        handover=handover,
                        item=hl.item,
                        quantity=hl.damaged,
                        detail={"received": hl.received, "damaged": hl.damaged},
                        alarm=False,
                    )
                )
        any_open = found or Discrepancy.objects.filter(handover=handover).exists()
        handover.state = HandoverState.DISCREPANT if any_open else HandoverState.RECEIVED
        handover.receiver = actor
        handover.received_at = now
        handover.receive_note = note.strip()[:500]
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
                        "damaged": [
                            [hl.item_id, hl.damaged] for hl in given.values() if hl.damaged
                        ],
                        "discrepancies": sorted(str(d.pk) for d in found),
                        "note": handover.receive_note,
                    },
                )
            ]
        )[0]
        handover.receive_seq = entry.seq
        handover.save(
            update_fields=[
                "state",
                "receiver",
                "received_at",
                "receive_seq",
                "receive_note",
                "updated_at",
            ]
        )
    return handover

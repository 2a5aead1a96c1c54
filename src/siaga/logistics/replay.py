"""Replay the ledger's logistics entries into stock, package and seal states, and compare them
with what the services keep: ``siaga logistics rebuild --check``.

The ledger is the truth of custody; the tables are its cache. Replaying proves the cache holds
nothing the ledger does not explain (and, without ``--check``, rewrites it from the ledger)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from siaga.ledger.models import Entry
from siaga.logistics.choices import PackageState, SealState
from siaga.logistics.models import Package, Seal, Stock

StockKey = tuple[str, int]  # (site id, item id)


@dataclass
class State:
    stock: defaultdict[StockKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    packages: dict[str, list[Any]] = field(default_factory=dict)  # id -> [location, state]
    seals: dict[str, list[str]] = field(default_factory=dict)  # serial -> [package id, state]
    entries: int = 0

    def add(self, site: str, item: int, good: int = 0, damaged: int = 0) -> None:
        row = self.stock[(site, int(item))]
        row[0] += good
        row[1] += damaged


def _receipt(s: State, p: dict[str, Any], _subject: str) -> None:
    for item, _expected, counted, damaged in p["lines"]:
        s.add(p["site"], item, counted - damaged, damaged)


def _sorting(s: State, p: dict[str, Any], _subject: str) -> None:
    for item, _good, damaged, *_rest in p["lines"]:
        s.add(p["site"], item, -damaged, damaged)


def _destruction(s: State, p: dict[str, Any], _subject: str) -> None:
    for item, damaged, excess in p["lines"]:
        s.add(p["site"], item, -excess, -damaged)


def _packed(s: State, p: dict[str, Any], subject: str) -> None:
    for item, quantity in p["lines"]:
        s.add(p["site"], item, -quantity)
    s.packages[subject] = [p["site"], PackageState.PACKED]
    for serial in p["seals"]:
        s.seals[serial] = [subject, SealState.APPLIED]


def _dispatched(s: State, p: dict[str, Any], _subject: str) -> None:
    for package in p["packages"]:
        s.packages[package] = [None, PackageState.IN_TRANSIT]
    for item, quantity in p["lines"]:
        s.add(p["site"], item, -quantity)


def _received(s: State, p: dict[str, Any], subject: str) -> None:
    s.packages[subject] = [p["site"], PackageState.RECEIVED]


def _verified(s: State, p: dict[str, Any], subject: str) -> None:
    s.seals[subject][1] = SealState.VERIFIED


def _handover_received(s: State, p: dict[str, Any], _subject: str) -> None:
    damaged = dict(p.get("damaged", []))
    for item, received in p["lines"]:
        s.add(p["site"], item, (received or 0) - damaged.get(item, 0), damaged.get(item, 0))


def _resealed(s: State, p: dict[str, Any], subject: str) -> None:
    for serial in p["broken"]:
        s.seals[serial][1] = SealState.BROKEN
    for serial in p["applied"]:
        s.seals[serial] = [subject, SealState.APPLIED]


HANDLERS: dict[str, Callable[[State, dict[str, Any], str], None]] = {
    "logistics.receipt.recorded": _receipt,
    "logistics.sorting.recorded": _sorting,
    "logistics.destruction.recorded": _destruction,
    "logistics.package.packed": _packed,
    "logistics.handover.dispatched": _dispatched,
    "logistics.package.received": _received,
    "logistics.seal.verified": _verified,
    "logistics.handover.received": _handover_received,
    "logistics.package.resealed": _resealed,
}


def _entries() -> Iterator[tuple[str, str, dict[str, Any]]]:
    rows = (
        Entry.objects.filter(kind__in=HANDLERS.keys())
        .order_by("seq")
        .values_list("kind", "subject_id", "payload")
    )
    for kind, subject, payload in rows.iterator(chunk_size=5000):
        yield kind, subject, json.loads(payload)


def replay() -> State:
    """The state the ledger's logistics entries lead to, in ledger order."""
    state = State()
    for kind, subject, payload in _entries():
        HANDLERS[kind](state, payload, subject)
        state.entries += 1
    return state


@dataclass
class Difference:
    what: str
    key: str
    stored: Any
    replayed: Any


def stored() -> State:
    state = State()
    for site, item, good, damaged in Stock.objects.values_list(
        "site_id", "item_id", "quantity", "damaged"
    ).iterator(chunk_size=5000):
        if good or damaged:
            state.stock[(str(site), item)] = [good, damaged]
    for pk, location, package_state in Package.objects.values_list(
        "id", "location_id", "state"
    ).iterator(chunk_size=5000):
        state.packages[str(pk)] = [str(location) if location else None, package_state]
    for serial, package, seal_state in Seal.objects.values_list(
        "serial", "package_id", "state"
    ).iterator(chunk_size=5000):
        state.seals[serial] = [str(package), seal_state]
    return state


def compare(replayed: State, kept: State) -> list[Difference]:
    found: list[Difference] = []
    stock_keys = {k for k, v in replayed.stock.items() if v != [0, 0]} | set(kept.stock)
    for key in sorted(stock_keys):
        want, have = replayed.stock.get(key, [0, 0]), kept.stock.get(key, [0, 0])
        if want != have:
            found.append(Difference("stock", f"{key[0]}/{key[1]}", have, want))
    for what, want_map, have_map in (
        ("package", replayed.packages, kept.packages),
        ("seal", replayed.seals, kept.seals),
    ):
        for name in sorted(set(want_map) | set(have_map)):
            if want_map.get(name) != have_map.get(name):
                found.append(Difference(what, name, have_map.get(name), want_map.get(name)))
    return found


def rebuild(*, check: bool) -> tuple[State, list[Difference]]:
    """Replay and compare; unless ``check``, make the stored state the replayed one."""
    with transaction.atomic():
        replayed = replay()
        differences = compare(replayed, stored())
        if check or not differences:
            return replayed, differences
        for diff in differences:
            if diff.what == "stock":
                site, item = diff.key.split("/")
                good, damaged = diff.replayed or [0, 0]
                Stock.objects.update_or_create(
                    site_id=site, item_id=int(item), defaults={"quantity": good, "damaged": damaged}
                )
            elif diff.what == "package" and diff.replayed is not None:
                location, package_state = diff.replayed
                Package.objects.filter(pk=diff.key).update(
                    location_id=location, state=package_state
                )
            elif diff.what == "seal" and diff.replayed is not None:
                Seal.objects.filter(serial=diff.key).update(state=diff.replayed[1])
    return replayed, differences

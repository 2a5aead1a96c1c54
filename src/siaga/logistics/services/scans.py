"""The receiver's scans of packages and seals, a batch at a time."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import unit_covering, user_can
from siaga.core import bulk
from siaga.core.errors import InvalidInput
from siaga.ledger import services as ledger
from siaga.logistics.choices import (
    DiscrepancyKind,
    HandoverState,
    PackageState,
    ScanAction,
    SealState,
)
from siaga.logistics.models import (
    Handover,
    HandoverPackage,
    Package,
    Scan,
    Seal,
)
from siaga.logistics.services.common import (
    _SERIAL,
    _derived_id,
    _raise_discrepancy,
    package_code,
    seal_serial,
)
from siaga.logistics.services.handovers import _bound_for
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

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

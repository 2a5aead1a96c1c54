"""The one ingestion service, used by both channels (``POST /api/v1/readings`` and
``siaga mqtt``): a batch of messages in, in one transaction — the readings, the sensors' state,
the rules' state, the alarms their transitions raise or clear, the counters of what was
rejected. A fixed number of queries per batch, however many messages it holds.

A bad message is rejected with a stable code (``RejectCode``) and counted; it never stops the
batch. A message whose key (its id, sequence or time) is already stored is a duplicate: counted,
not stored twice. If the batch fails as a whole for a reason no message explains (a fault in a
rule), each message is tried on its own, so one poisoned message cannot hold the others back.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from siaga.access.selectors import occupied_zones
from siaga.alarms import services as alarms
from siaga.hazards import rules as rule_engine
from siaga.hazards.choices import RejectCode, RuleKind, SensorStatus
from siaga.hazards.models import Reading, RejectCounter, Rule, RuleState, Sensor
from siaga.hazards.payloads import Limits, Parsed, Rejected, parse
from siaga.regions.timezones import time_zone_of
from siaga.sites.models import Site, Zone

logger = logging.getLogger("siaga.hazards")

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
SOURCE = "hazards"


@dataclass(slots=True)
class Message:
    """One message: its sensor's device id, and its payload — decoded JSON, or the raw bytes
    of an MQTT message (decoded here, so that malformed JSON is counted like any other
    rejection). ``site_code`` comes from the MQTT topic; over HTTP the token names the site."""

    device_id: str
    payload: Any
    site_code: str = ""
    received_at: datetime | None = None


@dataclass(slots=True)
class Result:
    status: str
    code: str = ""
    detail: str = ""
    sensor_id: uuid.UUID | None = None
    alarm_ids: list[uuid.UUID] = field(default_factory=list)


def _reject_constant(name: str) -> Any:
    raise Rejected(RejectCode.NOT_FINITE, f"{name} in the message")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode(raw: bytes | str) -> Any:
    """JSON as a device writes it; NaN and Infinity (which Python's json accepts) are refused."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        return _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Rejected(RejectCode.MALFORMED, f"not JSON: {exc}"[:200]) from None


@dataclass
class _Batch:
    channel: str
    now: datetime
    limits: Limits
    results: list[Result]
    counters: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)

    def count(
        self, site: Site | None, site_code: str, device_id: str, code: str, detail: str
    ) -> None:
        key = (site_code[:40], device_id[:64], code)
        entry = self.counters.get(key)
        if entry is None:
            self.counters[key] = [site.pk if site else None, 1, detail]
        else:
            entry[1] += 1
            entry[2] = detail


def ingest(
    messages: Sequence[Message],
    *,
    channel: str,
    site: Site | None = None,
    now: datetime | None = None,
) -> list[Result]:
    """Ingest a batch; one result per message, in order. ``site``: the device token's site
    (HTTP) — only its sensors are found. Without it each message names its site (MQTT)."""
    now = now or timezone.now()
    limits = Limits(
        now=now,
        max_future=timedelta(seconds=settings.HAZARDS_MAX_FUTURE_SECONDS),
        max_age=timedelta(days=settings.HAZARDS_RAW_DAYS),
    )
    try:
        return _ingest(messages, channel=channel, site=site, now=now, limits=limits)
    except (Rejected, DatabaseError):
        raise
    except Exception:
        if len(messages) == 1:
            logger.exception("a reading could not be stored")
            return _failed(messages, channel=channel, site=site, now=now, limits=limits)
        logger.exception("a batch of %s readings failed: trying each on its own", len(messages))
    results: list[Result] = []
    for message in messages:
        results.extend(ingest([message], channel=channel, site=site, now=now))
    return results


def _failed(
    messages: Sequence[Message], *, channel: str, site: Site | None, now: datetime, limits: Limits
) -> list[Result]:
    batch = _Batch(channel, now, limits, [])
    for message in messages:
        batch.count(
            site, site.code if site else message.site_code, message.device_id, RejectCode.FAILED, ""
        )
    with transaction.atomic():
        _write_counters(batch)
    return [Result(REJECTED, RejectCode.FAILED, "") for _ in messages]


def _sensors(
    messages: Sequence[Message], site: Site | None
) -> tuple[dict[tuple[str, str], Sensor], dict[str, Site]]:
    """The batch's sensors with their enabled rules and states: three queries (sites and
    zones, few and seldom changed, are read once per batch for all its sensors)."""
    device_ids = {m.device_id for m in messages if m.device_id}
    if site is not None:
        found = list(Sensor.objects.filter(site=site, device_id__in=device_ids))
        sites = {site.pk: site}
    else:
        codes = {m.site_code for m in messages if m.site_code}
        sites = {s.pk: s for s in Site.objects.filter(code__in=codes)}
        found = list(Sensor.objects.filter(site_id__in=list(sites), device_id__in=device_ids))
    zone_ids = {s.zone_id for s in found if s.zone_id}
    zones = {z.pk: z for z in Zone.objects.filter(pk__in=zone_ids)} if zone_ids else {}
    by_sensor: dict[uuid.UUID, list[Rule]] = {s.pk: [] for s in found}
    if found:
        for rule in (
            Rule.objects.filter(sensor_id__in=list(by_sensor), enabled=True)
            .select_related("state")
            .order_by("pk")
        ):
            by_sensor[rule.sensor_id].append(rule)
    for sensor in found:
        # Set as select_related would (no descriptor checks, no query).
        sensor._state.fields_cache["site"] = sites[sensor.site_id]
        sensor._state.fields_cache["zone"] = zones.get(sensor.zone_id) if sensor.zone_id else None
        sensor.batch_rules = by_sensor[sensor.pk]  # type: ignore[attr-defined]
    by_code = {s.code: s for s in sites.values()}
    return {(sites[s.site_id].code, s.device_id): s for s in found}, by_code


def rules_of(sensor: Sensor) -> list[Rule]:
    """The enabled rules loaded with the batch (or, outside one, from the database)."""
    loaded: list[Rule] | None = getattr(sensor, "batch_rules", None)
    if loaded is None:
        loaded = list(sensor.rules.filter(enabled=True).select_related("state").order_by("pk"))
    return loaded


def _update_rows(model: Any, fields: list[str], rows: Iterable[Any]) -> None:
    """One UPDATE per row, sent with executemany: far cheaper than ``bulk_update``'s CASE
    expressions at a thousand rows a batch, on SQLite and PostgreSQL alike."""
    rows = list(rows)
    if not rows:
        return
    meta = model._meta
    columns: list[Any] = [meta.get_field(name) for name in fields]
    pk = meta.pk
    assignments = ", ".join(f"{connection.ops.quote_name(c.column)} = %s" for c in columns)
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {connection.ops.quote_name(pk.column)} = %s"
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns]
        + [pk.get_db_prep_save(row.pk, connection)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


_TIME_ZONES: dict[str, Any] = {}


def zones_of(region: str) -> Any:
    zone = _TIME_ZONES.get(region)
    if zone is None:
        zone = _TIME_ZONES[region] = time_zone_of(region)
    return zone


def _ingest(
    messages: Sequence[Message],
    *,
    channel: str,
    site: Site | None,
    now: datetime,
    limits: Limits,
) -> list[Result]:
    results = [Result(REJECTED) for _ in messages]
    batch = _Batch(channel, now, limits, results)
    sensors, sites = _sensors(messages, site)
    parsed: list[tuple[int, Sensor, Parsed]] = []
    for index, message in enumerate(messages):
        code = site.code if site is not None else message.site_code
        sensor = sensors.get((code, message.device_id))
        result = results[index]
        try:
            if not isinstance(message.payload, dict | bytes | str):
                raise Rejected(RejectCode.MALFORMED, "a reading is a JSON object")
            if sensor is None:
                raise Rejected(RejectCode.SENSOR_UNKNOWN, f"{code}/{message.device_id}"[:200])
            result.sensor_id = sensor.pk
            if not sensor.active:
                raise Rejected(RejectCode.SENSOR_INACTIVE, sensor.device_id)
            payload = message.payload
            if isinstance(payload, bytes | str):
                payload = decode(payload)
            reading = parse(
                payload,
                kind=sensor.kind,
                payload_format=sensor.payload_format,
                mapping=sensor.mapping,
                calibration=sensor.calibration_offset,
                received_at=message.received_at or now,
                local=zones_of(sensor.site.region_id),
                limits=limits,
            )
        except Rejected as rejected:
            result.code, result.detail = rejected.code, rejected.detail
            batch.count(
                sensor.site if sensor else sites.get(code),
                code,
                message.device_id,
                rejected.code,
                rejected.detail,
            )
            continue
        parsed.append((index, sensor, reading))
    with transaction.atomic():
        fresh = _insert_fresh(parsed, batch)
        _store(fresh, batch)
        _write_counters(batch)
    return results


def _insert_fresh(
    parsed: list[tuple[int, Sensor, Parsed]], batch: _Batch
) -> list[tuple[int, Sensor, Parsed]]:
    """Insert the readings whose key is new (``ON CONFLICT DO NOTHING``, one executemany) and
    return those: in the usual batch every row goes in and no query is needed to know it.
    When some did not, the rows this batch wrote are told apart by their ``received_at``."""
    if not parsed:
        return []
    seen: set[tuple[uuid.UUID, str]] = set()
    unique: list[tuple[int, Sensor, Parsed]] = []
    for item in parsed:
        index, sensor, reading = item
        if (sensor.pk, reading.key) in seen:
            _duplicate(batch, index, sensor, reading)
            continue
        seen.add((sensor.pk, reading.key))
        unique.append(item)
    meta = Reading._meta
    names = ["sensor", "at", "value", "key", "received_at", "channel"]
    fields: list[Any] = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING"
    )
    sensor_field, at_field = fields[0], fields[1]
    received = at_field.get_db_prep_save(batch.now, connection)
    # Many readings share their sensor and their time (the batch's): each prepared once.
    prepared: dict[Any, Any] = {batch.now: received}
    sensor_ids: dict[uuid.UUID, Any] = {}

    def prep_at(at: datetime) -> Any:
        value = prepared.get(at)
        if value is None:
            value = prepared[at] = at_field.get_db_prep_save(at, connection)
        return value

    def prep_sensor(pk: uuid.UUID) -> Any:
        value = sensor_ids.get(pk)
        if value is None:
            value = sensor_ids[pk] = sensor_field.get_db_prep_save(pk, connection)
        return value

    rows = [
        (
            prep_sensor(sensor.pk),
            prep_at(reading.at),
            reading.value,
            reading.key,
            received,
            batch.channel,
        )
        for _index, sensor, reading in unique
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        inserted = cursor.rowcount
    if inserted == len(unique):
        return unique
    mine = set(
        Reading.objects.filter(
            sensor_id__in={s.pk for _i, s, _r in unique},
            key__in={r.key for _i, _s, r in unique},
            received_at=batch.now,
            channel=batch.channel,
        ).values_list("sensor_id", "key")
    )
    fresh = []
    for item in unique:
        index, sensor, reading = item
        if (sensor.pk, reading.key) in mine:
            fresh.append(item)
        else:
            _duplicate(batch, index, sensor, reading)
    return fresh


def _duplicate(batch: _Batch, index: int, sensor: Sensor, reading: Parsed) -> None:
    result = batch.results[index]
    result.status, result.code, result.detail = DUPLICATE, RejectCode.DUPLICATE, reading.key
    batch.count(sensor.site, sensor.site.code, sensor.device_id, RejectCode.DUPLICATE, "")


def _store(fresh: list[tuple[int, Sensor, Parsed]], batch: _Batch) -> None:
    if not fresh:
        return
    # Rules see each sensor's readings in time order; one older than the sensor's last is
    # kept as data only.
    fresh.sort(key=lambda item: (id(item[1]), item[2].at))
    changed_sensors: dict[uuid.UUID, Sensor] = {}
    changed_states: dict[uuid.UUID, RuleState] = {}
    new_states: list[RuleState] = []
    actions: list[tuple[int, Sensor, Rule, str, float | None, datetime]] = []
    occupied: dict[uuid.UUID, set[uuid.UUID | None]] = {}

    def locked(sensor: Sensor) -> Callable[[], bool]:
        def ask() -> bool:
            if sensor.site_id not in occupied:
                occupied[sensor.site_id] = occupied_zones(sensor.site)
            return sensor.zone_id not in occupied[sensor.site_id]

        return ask

    for index, sensor, reading in fresh:
        batch.results[index].status = ACCEPTED
        if sensor.rollup_from is None or reading.at < sensor.rollup_from:
            sensor.rollup_from = reading.at
            changed_sensors[sensor.pk] = sensor
        if sensor.last_reading_at is not None and reading.at < sensor.last_reading_at:
            continue
        was = sensor.status
        sensor.last_reading_at, sensor.last_value = reading.at, reading.value
        if was != SensorStatus.ONLINE:
            sensor.status, sensor.status_since = SensorStatus.ONLINE, batch.now
        changed_sensors[sensor.pk] = sensor
        for rule in rules_of(sensor):
            state = _state_of(rule, new_states)
            if rule.kind == RuleKind.SILENT:
                if was in (SensorStatus.SILENT, SensorStatus.UNAVAILABLE) and state.active:
                    state.active = False
                    changed_states[rule.pk] = state
                    actions.append(
                        (index, sensor, rule, rule_engine.CLEAR, reading.value, reading.at)
                    )
                continue
            outcome = rule_engine.evaluate(
                rule, state, reading.value, reading.at, zone_locked=locked(sensor)
            )
            if outcome.changed:
                changed_states[rule.pk] = state
            if outcome.action:
                actions.append((index, sensor, rule, outcome.action, reading.value, reading.at))
    for sensor in changed_sensors.values():
        sensor.silent_after = silent_after(sensor)
    _update_rows(
        Sensor,
        ["last_reading_at", "last_value", "status", "status_since", "silent_after", "rollup_from"],
        changed_sensors.values(),
    )
    if new_states:
        RuleState.objects.bulk_create(new_states)
    fresh_ids = {id(s) for s in new_states}
    _update_rows(
        RuleState,
        ["active", "since", "value", "candidate", "candidate_since", "points"],
        (s for s in changed_states.values() if id(s) not in fresh_ids),
    )
    for index, sensor, rule, action, value, at in actions:
        alarm_id = apply(rule, sensor, action, value, at)
        if alarm_id is not None:
            batch.results[index].alarm_ids.append(alarm_id)


def _state_of(rule: Rule, new_states: list[RuleState]) -> RuleState:
    try:
        return rule.state
    except RuleState.DoesNotExist:
        state = RuleState(rule=rule)
        rule.state = state
        new_states.append(state)
        return state


def silent_after(sensor: Sensor) -> datetime | None:
    """When the sensor counts as silent (unavailable, if it runs on a battery) unless it
    reports again: a battery sensor after SIAGA_HAZARDS_BATTERY_HOURS, any other after its
    silent rule's intervals."""
    base = sensor.last_reading_at or sensor.created_at
    if base is None:
        return None
    if sensor.battery_powered:
        return base + timedelta(hours=settings.HAZARDS_BATTERY_HOURS)
    silent = next((r for r in rules_of(sensor) if r.kind == RuleKind.SILENT), None)
    if silent is None:
        return None
    return base + timedelta(seconds=silent.intervals * sensor.report_interval_seconds)


def apply(
    rule: Rule, sensor: Sensor, action: str, value: float | None, at: datetime
) -> uuid.UUID | None:
    """A rule's transition through the one alarm service (key per rule × sensor)."""
    if action == rule_engine.CLEAR:
        alarms.clear_alarm(source=SOURCE, key=rule.alarm_key, now=at)
        return None
    alarm = alarms.raise_alarm(
        source=SOURCE,
        key=rule.alarm_key,
        kind=rule.alarm_kind,
        site=sensor.site,
        zone=sensor.zone,
        severity=rule.severity,
        message=rule_engine.message(rule, sensor, value),
        evidence=[
            {"type": "hazards.sensor", "id": str(sensor.pk), "label": sensor.device_id},
            {"type": "hazards.rule", "id": str(rule.pk), "label": rule.alarm_kind},
        ],
        now=at,
    )
    return alarm.pk


def _write_counters(batch: _Batch) -> None:
    """Counters go up in the batch's transaction: an update, or an insert the first time."""
    for (site_code, device_id, code), (site_id, count, detail) in batch.counters.items():
        updated = RejectCounter.objects.filter(
            site_code=site_code, device_id=device_id, channel=batch.channel, code=code
        ).update(count=F("count") + count, last_at=batch.now, last_detail=detail)
        if updated:
            continue
        try:
            with transaction.atomic():
                RejectCounter.objects.create(
                    site_id=site_id,
                    site_code=site_code,
                    device_id=device_id,
                    channel=batch.channel,
                    code=code,
                    count=count,
                    first_at=batch.now,
                    last_at=batch.now,
                    last_detail=detail,
                )
        except IntegrityError:  # another process created it just now
            RejectCounter.objects.filter(
                site_code=site_code, device_id=device_id, channel=batch.channel, code=code
            ).update(count=F("count") + count, last_at=batch.now, last_detail=detail)


def count_rejection(
    *, site: Site | None, site_code: str, device_id: str, channel: str, code: str, detail: str = ""
) -> None:
    """A rejection found before any sensor is looked at (a body that is not JSON, a topic of
    the wrong shape, a token for another site)."""
    batch = _Batch(channel, timezone.now(), Limits(timezone.now(), timedelta(), timedelta()), [])
    batch.count(site, site_code, device_id, code, detail)
    with transaction.atomic():
        _write_counters(batch)


def summarize(results: Iterable[Result]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for result in results:
        totals[result.status] += 1
    return {k: totals.get(k, 0) for k in (ACCEPTED, DUPLICATE, REJECTED)}

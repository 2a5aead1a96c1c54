"""What firmware sends, read into one shape: a key, a time and a value (or None: unknown).

Pure functions, no database: the ingestion calls them for both channels. Real firmware differs:

* Zigbee2MQTT ``{"contact": true}`` means the door is CLOSED (the reed switch is in contact);
  Tasmota ``{"Switch1": "ON"}`` / ``"Contact": 1`` means OPEN. SIAGA stores 1 = open.
* numbers come as strings (``"23.5"``); booleans as ``true``, ``1``, ``"ON"``, ``"open"``...
* ``null`` (a device just restarted, Zigbee2MQTT's first message) means unknown, never false.
* Tasmota writes its local time without an offset (``"2024-01-10T23:40:00"``): it is read in
  the site's time zone (WIB, WITA or WIT).

A sensor's ``mapping`` (data, editable on the admin) says where each thing is: ``value``,
``at``, ``id``, ``seq`` as dotted paths, ``invert`` for a contact read the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from django.utils.dateparse import parse_datetime

from siaga.hazards.choices import (
    BOOLEAN_KINDS,
    PHYSICAL_RANGE,
    PayloadFormat,
    RejectCode,
    SensorKind,
)


class Rejected(Exception):
    """A message that is not a reading; ``code`` is a :class:`RejectCode`."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail[:200]


@dataclass(frozen=True, slots=True)
class Parsed:
    key: str
    at: datetime
    value: float | None


# Zigbee2MQTT names its exposed properties after what they measure.
_Z2M_VALUE: dict[str, str] = {
    SensorKind.TEMPERATURE: "temperature",
    SensorKind.HUMIDITY: "humidity",
    SensorKind.SMOKE: "smoke",
    SensorKind.WATER_LEAK: "water_leak",
    SensorKind.WATER_LEVEL: "water_level",
    SensorKind.DOOR_CONTACT: "contact",
    SensorKind.MAINS_POWER: "power_outage",
    SensorKind.MOTION: "occupancy",
}
# Tasmota: the sensor's own name comes first (AM2301, DS18B20, SI7021…), so the value path is
# given in the mapping; these are its usual keys when it is not.
_TASMOTA_VALUE: dict[str, str] = {
    SensorKind.TEMPERATURE: "Temperature",
    SensorKind.HUMIDITY: "Humidity",
    SensorKind.DOOR_CONTACT: "Switch1",
    SensorKind.WATER_LEAK: "Switch1",
    SensorKind.SMOKE: "Switch1",
    SensorKind.MAINS_POWER: "POWER",
    SensorKind.MOTION: "Switch1",
    SensorKind.WATER_LEVEL: "Distance",
}

_TRUE_WORDS = frozenset({"1", "true", "on", "open", "yes", "wet", "detected", "high"})
_FALSE_WORDS = frozenset({"0", "false", "off", "closed", "close", "no", "dry", "clear", "low"})


def defaults(payload_format: str, kind: str) -> dict[str, Any]:
    """The mapping a format implies; a sensor's own mapping overrides it key by key."""
    if payload_format == PayloadFormat.ZIGBEE2MQTT:
        return {
            "value": _Z2M_VALUE.get(kind, "value"),
            "at": "last_seen",
            # contact true = closed; power_outage true = the power is OFF.
            "invert": kind in (SensorKind.DOOR_CONTACT, SensorKind.MAINS_POWER),
        }
    if payload_format == PayloadFormat.TASMOTA:
        return {"value": _TASMOTA_VALUE.get(kind, "value"), "at": "Time", "invert": False}
    return {"value": "value", "at": "at", "id": "id", "seq": "seq", "invert": False}


_MISSING = object()
_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {}


def _mapping(payload_format: str, kind: str, mapping: dict[str, Any]) -> dict[str, Any]:
    """The format's defaults with the sensor's own keys over them (the defaults kept once)."""
    base = _DEFAULTS.get((payload_format, kind))
    if base is None:
        base = _DEFAULTS[(payload_format, kind)] = defaults(payload_format, kind)
    return {**base, **mapping} if mapping else base


def _lookup(payload: dict[str, Any], path: str) -> Any:
    """A dotted path; Tasmota's sensor name may be anywhere one level down, so a bare key
    that is not at the top is looked for in each nested object."""
    if path in payload:
        return payload[path]
    node: Any = payload
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            if "." not in path and isinstance(payload, dict):
                for inner in payload.values():
                    if isinstance(inner, dict) and path in inner:
                        return inner[path]
            return _MISSING
        node = node[part]
    return node


def to_number(raw: Any, *, boolean: bool) -> float | None:
    """A value as SIAGA stores it; None for unknown. Raises Rejected."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().lower()
        if boolean and text in _TRUE_WORDS:
            return 1.0
        if boolean and text in _FALSE_WORDS:
            return 0.0
        if text in ("", "null", "none", "unknown"):
            return None
        try:
            number = float(text.replace(",", ".") if text.count(",") == 1 else text)
        except ValueError:
            raise Rejected(RejectCode.VALUE_INVALID, f"value {raw!r:.60}") from None
    else:
        raise Rejected(RejectCode.VALUE_INVALID, f"value of type {type(raw).__name__}")
    if not math.isfinite(number):
        raise Rejected(RejectCode.NOT_FINITE, f"value {raw!r:.40}")
    if boolean:
        if number not in (0.0, 1.0):
            raise Rejected(RejectCode.OUT_OF_RANGE, f"a yes/no value of {number:g}")
        return number
    return number


def to_time(raw: Any, local: tzinfo) -> datetime:
    """ISO 8601 (with or without offset: without, the site's local time) or a Unix time in
    seconds or milliseconds. Raises Rejected."""
    if isinstance(raw, bool):
        raise Rejected(RejectCode.TIME_INVALID, "a boolean time")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise Rejected(RejectCode.TIME_INVALID, "a time that is not a number")
        seconds = raw / 1000 if raw > 1e11 else raw
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Rejected(RejectCode.TIME_INVALID, f"time {raw!r:.40}") from None
    if isinstance(raw, str):
        try:
            parsed = parse_datetime(raw.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise Rejected(RejectCode.TIME_INVALID, f"time {raw!r:.60}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=local)
        return parsed.astimezone(UTC)
    raise Rejected(RejectCode.TIME_INVALID, f"time of type {type(raw).__name__}")


@dataclass(frozen=True, slots=True)
class Limits:
    """The clock window a reading's time must fall in (now − raw retention … now + skew)."""

    now: datetime
    max_future: timedelta
    max_age: timedelta


def parse(
    payload: Any,
    *,
    kind: str,
    payload_format: str,
    mapping: dict[str, Any],
    calibration: float,
    received_at: datetime,
    local: tzinfo,
    limits: Limits,
) -> Parsed:
    """One message for one sensor, read as its format and mapping say. Raises Rejected."""
    if not isinstance(payload, dict):
        raise Rejected(RejectCode.MALFORMED, f"a JSON {type(payload).__name__}, not an object")
    rules = _mapping(payload_format, kind, mapping)
    boolean = kind in BOOLEAN_KINDS
    raw = _lookup(payload, str(rules.get("value") or "value"))
    if raw is _MISSING:
        raise Rejected(RejectCode.VALUE_MISSING, f"no {rules.get('value')!r} in the message")
    value = to_number(raw, boolean=boolean)
    if value is not None:
        if boolean and rules.get("invert"):
            value = 1.0 - value
        if not boolean:
            value += calibration
            low, high = PHYSICAL_RANGE.get(kind, (-1e9, 1e9))
            if not low <= value <= high:
                raise Rejected(RejectCode.OUT_OF_RANGE, f"{value:g} outside {low:g}..{high:g}")
    at_raw = _lookup(payload, str(rules.get("at") or "at"))
    at = received_at if at_raw is _MISSING or at_raw is None else to_time(at_raw, local)
    if at > limits.now + limits.max_future:
        raise Rejected(RejectCode.IN_FUTURE, f"time {at.isoformat()}")
    if at < limits.now - limits.max_age:
        raise Rejected(RejectCode.TOO_OLD, f"time {at.isoformat()}")
    return Parsed(key=_key(payload, rules, at), at=at, value=value)


def _key(payload: dict[str, Any], rules: dict[str, Any], at: datetime) -> str:
    """The reading's id when it has one, else the device's sequence number, else its time:
    the same message again has the same key."""
    for name, prefix in (("id", "id:"), ("seq", "seq:")):
        path = rules.get(name)
        if not path:
            continue
        raw = _lookup(payload, str(path))
        if raw is _MISSING or raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise Rejected(RejectCode.ID_INVALID, f"{name} of type {type(raw).__name__}")
        text = str(raw).strip()
        if not text or len(text) > 64 or not text.isprintable():
            raise Rejected(RejectCode.ID_INVALID, f"{name} {text[:40]!r}")
        return prefix + text
    return "at:" + at.isoformat(timespec="microseconds")

"""What real firmware sends, read into SIAGA's one shape (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from siaga.hazards.payloads import Limits, Rejected, parse
from siaga.regions.timezones import WIB

NOW = datetime(2029, 1, 10, 16, 40, tzinfo=UTC)
LIMITS = Limits(now=NOW, max_future=timedelta(minutes=5), max_age=timedelta(days=30))


def read(payload: Any, kind: str, fmt: str = "siaga", **mapping: Any) -> Any:
    return parse(
        payload,
        kind=kind,
        payload_format=fmt,
        mapping=mapping,
        calibration=0.0,
        received_at=NOW,
        local=WIB,
        limits=LIMITS,
    )


def test_zigbee2mqtt_contact_true_means_the_door_is_closed() -> None:
    assert read({"contact": True, "battery": 97}, "door_contact", "zigbee2mqtt").value == 0.0
    assert read({"contact": False}, "door_contact", "zigbee2mqtt").value == 1.0


def test_tasmota_contact_1_or_on_means_open() -> None:
    assert read({"Switch1": "ON"}, "door_contact", "tasmota").value == 1.0
    assert read({"Contact": 1}, "door_contact", "tasmota", value="Contact").value == 1.0
    assert read({"Switch1": "OFF"}, "door_contact", "tasmota").value == 0.0


def test_tasmota_local_time_without_offset_is_the_sites_time_zone() -> None:
    payload = {"Time": "2029-01-10T23:40:00", "AM2301": {"Temperature": "27.5", "Humidity": 88}}
    humidity = read(payload, "humidity", "tasmota", value="AM2301.Humidity")
    assert humidity.value == 88.0
    assert humidity.at == datetime(2029, 1, 10, 16, 40, tzinfo=UTC)  # 23:40 WIB
    # Its sensor's name one level down is found without a mapping; numbers as strings.
    assert read(payload, "temperature", "tasmota").value == 27.5


def test_zigbee2mqtt_null_after_a_restart_is_unknown_not_false() -> None:
    assert read({"water_leak": None, "battery": None}, "water_leak", "zigbee2mqtt").value is None
    assert read({"contact": None}, "door_contact", "zigbee2mqtt").value is None


def test_mains_power_outage_true_is_power_off() -> None:
    assert read({"power_outage": True}, "mains_power", "zigbee2mqtt").value == 0.0


def test_the_key_is_the_id_else_the_sequence_else_the_time() -> None:
    assert read({"id": "r-1", "value": 1}, "water_leak").key == "id:r-1"
    assert read({"seq": 42, "value": 1}, "water_leak").key == "seq:42"
    # A Unix time, in milliseconds as Zigbee2MQTT's last_seen "epoch" writes it.
    epoch_ms = int(NOW.timestamp() * 1000) - 60_000
    at = read({"value": 1, "at": epoch_ms}, "water_leak")
    assert at.at == NOW - timedelta(minutes=1)
    assert at.key == "at:" + at.at.isoformat(timespec="microseconds")


@pytest.mark.parametrize(
    ("payload", "kind", "code"),
    [
        ([1, 2], "humidity", "reading_malformed"),
        ({"temp": 20}, "temperature", "reading_value_missing"),
        ({"value": "NaN"}, "temperature", "reading_not_finite"),
        ({"value": 1e400}, "temperature", "reading_not_finite"),
        ({"value": 150}, "humidity", "reading_out_of_range"),
        ({"value": -1}, "humidity", "reading_out_of_range"),
        ({"value": -300}, "temperature", "reading_out_of_range"),
        ({"value": 2}, "water_leak", "reading_out_of_range"),
        ({"value": {"a": 1}}, "humidity", "reading_value_invalid"),
        ({"value": 50, "at": "yesterday"}, "humidity", "reading_time_invalid"),
        ({"value": 50, "at": "2030-01-01T00:00:00Z"}, "humidity", "reading_in_future"),
        ({"value": 50, "at": "2028-01-01T00:00:00Z"}, "humidity", "reading_too_old"),
        ({"value": 50, "id": {"x": 1}}, "humidity", "reading_id_invalid"),
        ({"value": 50, "id": "x" * 65}, "humidity", "reading_id_invalid"),
    ],
)
def test_bad_payloads_are_rejected_with_a_stable_code(payload: Any, kind: str, code: str) -> None:
    with pytest.raises(Rejected) as caught:
        read(payload, kind)
    assert caught.value.code == code

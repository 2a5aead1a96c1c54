"""POST /api/v1/readings: the batch ingest with a device token, and the bad input it refuses.
Each refusal asserts its code, its counter, and that nothing half-written stays."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from siaga.alarms.models import Alarm
from siaga.hazards.models import Reading, RejectCounter, RuleState, Sensor
from tests.conftest import World
from tests.hazards.conftest import Hall

pytestmark = pytest.mark.django_db


def post(token: str, body: Any, *, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body)
    return Client().post(
        "/api/v1/readings",
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def counters(site_code: str = "GUDANG-16.08") -> dict[tuple[str, str], int]:
    return {
        (c.device_id, c.code): c.count
        for c in RejectCounter.objects.filter(site_code=site_code, channel="http")
    }


def reading(sensor: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"sensor": sensor, "id": str(uuid.uuid4()), "value": value, **extra}


def test_a_batch_is_stored_and_the_sensors_state_follows(hall: Hall) -> None:
    at = timezone.now() - timedelta(seconds=30)
    response = post(
        hall.token,
        {
            "site": "GUDANG-16.08",
            "readings": [
                reading("HUM-A-01", "71.5", at=at.isoformat()),
                reading("TMP-A-01", 27.0),
                reading("WL-A-01", False),
            ],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert [r["status"] for r in body["results"]] == ["accepted"] * 3
    humidity = Sensor.objects.get(pk=hall.humidity.pk)
    assert humidity.last_value == 71.5
    assert humidity.last_reading_at == at
    assert humidity.status == "online"
    # Calibration: -0.5 °C on every temperature.
    assert Reading.objects.get(sensor=hall.temperature).value == 26.5
    assert Reading.objects.count() == 3
    assert not Alarm.objects.exists()
    assert counters() == {}


def test_a_reading_replayed_with_its_id_is_a_counted_duplicate(hall: Hall) -> None:
    one = reading("HUM-A-01", 70)
    assert post(hall.token, {"readings": [one]}).json()["accepted"] == 1
    again = post(hall.token, {"readings": [one, one]})
    assert again.status_code == 200
    body = again.json()
    assert (body["accepted"], body["duplicates"]) == (0, 2)
    assert body["results"][0]["code"] == "reading_duplicate"
    assert Reading.objects.filter(sensor=hall.humidity).count() == 1
    assert counters() == {("HUM-A-01", "reading_duplicate"): 2}


def test_malformed_json_is_refused_and_counted(hall: Hall) -> None:
    response = post(hall.token, None, raw=b'{"readings": [{"sensor": "HUM-A-01", "value": 7')
    assert response.status_code == 400
    assert response.json()["code"] == "reading_malformed"
    assert counters() == {("", "reading_malformed"): 1}
    assert not Reading.objects.exists()


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (float("nan"), "reading_not_finite"),
        (float("inf"), "reading_not_finite"),
        ("NaN", "reading_not_finite"),
        ("-Infinity", "reading_not_finite"),
        (150, "reading_out_of_range"),
        ("lembap", "reading_value_invalid"),
        ([70], "reading_value_invalid"),
    ],
    ids=["nan", "inf", "nan-string", "minus-infinity-string", "humidity-150", "word", "list"],
)
def test_impossible_humidity_values_are_rejected(hall: Hall, value: Any, code: str) -> None:
    good = reading("HUM-A-01", 70)
    bad = reading("HUM-A-01", value)
    raw = json.dumps({"readings": [good, bad]}, allow_nan=True).encode()
    response = post(hall.token, None, raw=raw)
    if isinstance(value, float):
        # A literal NaN/Infinity in the body: the whole body is refused.
        assert response.status_code == 400
        assert response.json()["code"] == code
        assert not Reading.objects.exists()
        assert counters() == {("", code): 1}
        return
    assert response.status_code == 200
    body = response.json()
    assert body["results"][1]["status"] == "rejected"
    assert body["results"][1]["code"] == code
    assert body["accepted"] == 1
    assert list(Reading.objects.values_list("value", flat=True)) == [70.0]
    assert counters() == {("HUM-A-01", code): 1}


def test_minus_300_degrees_is_physically_impossible(hall: Hall) -> None:
    body = post(hall.token, [reading("TMP-A-01", -300)]).json()
    assert body["results"][0]["code"] == "reading_out_of_range"
    assert not Reading.objects.exists()
    assert Sensor.objects.get(pk=hall.temperature.pk).last_value is None
    assert counters() == {("TMP-A-01", "reading_out_of_range"): 1}


def test_a_time_far_in_the_future_is_rejected(hall: Hall) -> None:
    later = (timezone.now() + timedelta(days=2)).isoformat()
    body = post(hall.token, [reading("HUM-A-01", 70, at=later)]).json()
    assert body["results"][0]["code"] == "reading_in_future"
    assert not Reading.objects.exists()
    assert counters() == {("HUM-A-01", "reading_in_future"): 1}


def test_an_unknown_sensor_is_rejected_and_counted(hall: Hall) -> None:
    body = post(hall.token, [reading("HUM-Z-99", 70)]).json()
    assert body["results"][0]["code"] == "reading_sensor_unknown"
    assert not Reading.objects.exists()
    assert counters() == {("HUM-Z-99", "reading_sensor_unknown"): 1}


def test_a_device_token_for_another_site_reaches_none_of_this_sites_sensors(
    hall: Hall, world: World
) -> None:
    # OKU's token naming OKU Timur's site: refused as a whole.
    response = post(hall.token_oku, {"site": "GUDANG-16.08", "readings": [reading("HUM-A-01", 90)]})
    assert response.status_code == 403
    assert response.json()["code"] == "device_token_wrong_site"
    # OKU's token with OKU Timur's device id: no such sensor at OKU's site.
    body = post(hall.token_oku, [reading("HUM-A-01", 90)]).json()
    assert body["results"][0]["code"] == "reading_sensor_unknown"
    assert not Reading.objects.exists()
    assert Sensor.objects.get(pk=hall.humidity.pk).last_value is None
    assert counters("GUDANG-16.01") == {
        ("", "device_token_wrong_site"): 1,
        ("HUM-A-01", "reading_sensor_unknown"): 1,
    }
    assert counters() == {}


def test_no_token_a_persons_session_or_a_revoked_token_is_refused(
    hall: Hall, client_for: Any, operator_okut: Any
) -> None:
    from siaga.hazards.models import DeviceToken

    assert (
        Client().post("/api/v1/readings", "[]", content_type="application/json").status_code == 401
    )
    session = client_for(operator_okut)
    assert (
        session.post("/api/v1/readings", "[]", content_type="application/json").status_code == 401
    )
    DeviceToken.objects.filter(site__code="GUDANG-16.08").update(revoked_at=timezone.now())
    assert post(hall.token, [reading("HUM-A-01", 70)]).status_code == 401
    assert not Reading.objects.exists()


def test_null_means_unknown_not_false(hall: Hall) -> None:
    post(hall.token, [reading("WL-A-01", True)])
    leak = Alarm.objects.get(kind="water_leak", active=True)
    body = post(hall.token, [reading("WL-A-01", None)]).json()
    assert body["accepted"] == 1
    leak.refresh_from_db()
    assert leak.active  # an unknown value clears nothing
    assert Reading.objects.filter(sensor=hall.leak, value__isnull=True).count() == 1


def test_a_fault_in_one_message_does_not_lose_the_others(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule that raises for one sensor: the batch is retried message by message, the others
    are stored, the failing one is counted as reading_failed and leaves no row."""
    from siaga.hazards import rules

    real = rules.evaluate

    def faulty(rule: Any, state: Any, value: Any, at: Any, **kw: Any) -> Any:
        if rule.sensor_id == hall.temperature.pk:
            raise RuntimeError("a bug in a rule")
        return real(rule, state, value, at, **kw)

    monkeypatch.setattr(rules, "evaluate", faulty)
    body = post(hall.token, [reading("HUM-A-01", 70), reading("TMP-A-01", 25)]).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["code"] == "reading_failed"
    assert list(Reading.objects.values_list("sensor__device_id", flat=True)) == ["HUM-A-01"]
    assert counters() == {("TMP-A-01", "reading_failed"): 1}
    assert RuleState.objects.filter(rule__sensor=hall.temperature, points__len__gt=0).count() == 0


def test_rejections_are_exported_to_prometheus(hall: Hall, settings: Any) -> None:
    post(hall.token, [reading("HUM-A-01", 150), reading("HUM-A-01", 150)])
    settings.METRICS_TOKEN = "s3cret-token"
    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").content.decode()
    line = 'siaga_hazards_rejected_messages_total{channel="http",code="reading_out_of_range"} 2.0'
    assert line in text

"""The MQTT subscriber against the real Mosquitto: readings through QoS 1, bad messages counted
without stopping it, replays as duplicates, and a broker restart that loses nothing it kept."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.utils import timezone

from siaga.alarms.models import Alarm
from siaga.hazards.models import Reading, RejectCounter
from siaga.hazards.mqtt import Subscriber, parse_url
from tests.hazards.conftest import Hall
from tests.hazards.mqtt_support import (
    PrivateBroker,
    Publisher,
    drive,
    private_broker,
    require_broker,
    unique_prefix,
)

pytestmark = pytest.mark.django_db
__all__ = ["private_broker"]


def topic(prefix: str, device: str, site: str = "GUDANG-16.08") -> str:
    return f"{prefix}/{site}/{device}/reading"


def subscriber(prefix: str, *, port: int = 1883, client_id: str | None = None) -> Subscriber:
    return Subscriber(
        url=f"mqtt://127.0.0.1:{port}",
        client_id=client_id or f"siaga-test-{uuid.uuid4().hex[:10]}",
        prefix=prefix,
        batch_ms=20,
    )


def reading(value: Any, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "value": value, **extra}


def mqtt_counters() -> dict[tuple[str, str], int]:
    return {(c.device_id, c.code): c.count for c in RejectCounter.objects.filter(channel="mqtt")}


def test_the_url_gives_host_port_credentials_and_tls() -> None:
    broker = parse_url("mqtts://gateway:s%40cret@broker.kpu.example")
    assert (broker.host, broker.port, broker.tls) == ("broker.kpu.example", 8883, True)
    assert (broker.username, broker.password) == ("gateway", "s@cret")
    assert parse_url("mqtt://127.0.0.1").port == 1883


def test_readings_through_mqtt_and_bad_messages_counted_without_stopping(hall: Hall) -> None:
    require_broker()
    prefix = unique_prefix()
    sub = subscriber(prefix)
    publisher = Publisher()

    def script() -> None:
        assert sub.subscribed.wait(10)
        publisher.send(topic(prefix, "HUM-A-01"), b"{not json")
        publisher.send(topic(prefix, "HUM-A-01"), b'{"id": "n-1", "value": NaN}')
        publisher.send(topic(prefix, "HUM-Z-99"), reading(70))
        publisher.send(topic(prefix, "HUM-A-01"), reading("150"))
        publisher.send(f"{prefix}/GUDANG-16.08/HUM-A-01/reading/extra", reading(70))
        publisher.send(topic(prefix, "HUM-A-01", site="NO-SUCH-SITE"), reading(70))
        publisher.send(topic(prefix, "HUM-A-01"), reading("71.5"))
        publisher.send(topic(prefix, "WL-A-01"), reading(True))

    drive(sub, lambda: sub.stats.received >= 7, script=script)
    publisher.close()
    assert sub.stats.accepted == 2
    assert sorted(Reading.objects.values_list("sensor__device_id", "value")) == [
        ("HUM-A-01", 71.5),
        ("WL-A-01", 1.0),
    ]
    assert mqtt_counters() == {
        ("HUM-A-01", "reading_malformed"): 1,
        ("HUM-A-01", "reading_not_finite"): 1,
        ("HUM-Z-99", "reading_sensor_unknown"): 1,
        ("HUM-A-01", "reading_out_of_range"): 1,
        ("HUM-A-01", "reading_sensor_unknown"): 1,  # at a site nobody knows
    }
    unknown_site = RejectCounter.objects.get(site_code="NO-SUCH-SITE")
    assert unknown_site.site_id is None
    # The topic with an extra level is not a reading topic at all: the broker's "+" never
    # matches it, so the subscriber never receives it (7 received, not 8).
    [leak] = Alarm.objects.filter(kind="water_leak", active=True)
    assert leak.severity == "critical" and leak.incident_id is not None


def test_a_message_replayed_over_mqtt_is_a_counted_duplicate(hall: Hall) -> None:
    require_broker()
    prefix = unique_prefix()
    sub = subscriber(prefix)
    publisher = Publisher()
    one = reading(70)

    def script() -> None:
        assert sub.subscribed.wait(10)
        for _ in range(3):
            publisher.send(topic(prefix, "HUM-A-01"), one)

    drive(sub, lambda: sub.stats.received >= 3, script=script)
    publisher.close()
    assert Reading.objects.filter(sensor=hall.humidity).count() == 1
    assert mqtt_counters() == {("HUM-A-01", "reading_duplicate"): 2}


def test_nothing_the_broker_kept_is_lost_across_its_restart(
    hall: Hall, private_broker: PrivateBroker
) -> None:
    """QoS 1 in a persistent session: messages published while the subscriber is away are
    kept by the broker, through the broker's own restart, and delivered when it is back; the
    subscriber reconnects by itself after the broker restarts under it."""
    prefix = unique_prefix()
    client_id = f"siaga-test-{uuid.uuid4().hex[:10]}"
    sent: list[str] = []

    def publish(n: int) -> None:
        publisher = Publisher(private_broker.port)
        for _ in range(n):
            message = reading(60 + len(sent) % 10)
            sent.append(message["id"])
            publisher.send(topic(prefix, "HUM-A-01"), message)
        publisher.close()

    # 1. The subscriber's session is made; a first batch arrives while it runs.
    first = subscriber(prefix, port=private_broker.port, client_id=client_id)

    def while_up() -> None:
        assert first.subscribed.wait(10)
        publish(50)

    drive(first, lambda: first.stats.accepted >= 50, script=while_up)
    assert first.stats.accepted == 50
    # 2. The subscriber is down: the broker keeps what arrives; then the broker restarts.
    publish(200)
    private_broker.stop()
    private_broker.start()
    # 3. The subscriber is back (same client id: same session) and the broker restarts again
    # under it; what is published meanwhile arrives too.
    second = subscriber(prefix, port=private_broker.port, client_id=client_id)

    def restart_under_it() -> None:
        assert second.subscribed.wait(10)
        deadline = time.monotonic() + 20
        while second.stats.accepted < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert second.stats.accepted == 200, second.stats
        private_broker.stop()
        private_broker.start()
        publish(100)

    drive(second, lambda: second.stats.accepted >= 300, script=restart_under_it, timeout=60)
    assert second.stats.connects >= 2  # it reconnected by itself
    stored = set(Reading.objects.filter(sensor=hall.humidity).values_list("key", flat=True))
    assert stored == {f"id:{i}" for i in sent}
    assert len(sent) == 350
    assert Reading.objects.filter(sensor=hall.humidity).count() == 350
    assert timezone.now()

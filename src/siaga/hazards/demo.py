"""The demo's sensors in the OKU Timur warehouse (scenario 3, "a leak at night"), a day of their
readings, and the simulator that keeps them reporting — through HTTP in the embedded default,
through MQTT when a broker is configured — with a scripted roof leak in hall B at night.

Everything goes through the services: sensors with their kinds' default rules, readings
through the one ingestion service, alarms through the alarm service."""

from __future__ import annotations

import json
import logging
import math
import random
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from siaga.hazards import services
from siaga.hazards.choices import Channel
from siaga.hazards.models import Sensor
from siaga.sites.models import Site, Zone

logger = logging.getLogger("siaga.hazards.demo")

# (device id, kind, zone name, name, report interval s, battery, payload format)
SENSORS = [
    ("HUM-A-01", "humidity", "Gudang A", "Kelembapan Gudang A", 300, False, "siaga"),
    ("TMP-A-01", "temperature", "Gudang A", "Suhu Gudang A", 300, False, "siaga"),
    ("SMK-A-01", "smoke", "Gudang A", "Detektor asap Gudang A", 300, False, "siaga"),
    ("WL-A-01", "water_leak", "Gudang A", "Sensor air lantai Gudang A", 3600, True, "zigbee2mqtt"),
    ("DOOR-A-01", "door_contact", "Gudang A", "Pintu Gudang A", 3600, True, "zigbee2mqtt"),
    ("HUM-B-01", "humidity", "Gudang B", "Kelembapan Gudang B", 300, False, "siaga"),
    ("TMP-B-01", "temperature", "Gudang B", "Suhu Gudang B", 300, False, "siaga"),
    ("SMK-B-01", "smoke", "Gudang B", "Detektor asap Gudang B", 300, False, "siaga"),
    ("WL-B-01", "water_leak", "Gudang B", "Sensor air lantai Gudang B", 3600, True, "zigbee2mqtt"),
    ("DOOR-B-01", "door_contact", "Gudang B", "Pintu Gudang B", 3600, True, "zigbee2mqtt"),
    ("LVL-H-01", "water_level", "Halaman", "Genangan halaman", 300, False, "siaga"),
    ("PWR-K-01", "mains_power", "Kantor", "Listrik PLN", 300, False, "tasmota"),
    ("PIR-B-01", "motion", "Gudang B", "PIR Gudang B", 300, False, "siaga"),
]


@dataclass(frozen=True)
class SeedReport:
    sensors: int
    readings: int
    created: bool


def _zone(site: Site, name: str) -> Zone | None:
    return Zone.objects.filter(site=site, name=name).first()


def seed(site: Site, *, now: datetime | None = None, hours: int = 24) -> SeedReport:
    """The warehouse's simulated sensors and ``hours`` of their readings (every 10 minutes,
    quiet values: no alarm). Running it again adds nothing."""
    now = now or timezone.now()
    created = False
    for device, kind, zone_name, name, interval, battery, fmt in SENSORS:
        if Sensor.objects.filter(site=site, device_id=device).exists():
            continue
        zone = _zone(site, zone_name)
        services.create_sensor(
            actor=None,
            site_id=site.pk,
            zone_id=zone.pk if zone else None,
            id=uuid.uuid5(uuid.NAMESPACE_URL, f"siaga-demo-sensor:{site.code}:{device}"),
            device_id=device,
            kind=kind,
            name=name,
            report_interval_seconds=interval,
            battery_powered=battery,
            payload_format=fmt,
            mapping={"value": "Switch1"} if fmt == "tasmota" else {},
        )
        created = True
    readings = 0
    if created:
        steps = hours * 6
        for step in range(steps, -1, -1):
            at = now - timedelta(minutes=10 * step)
            batch = [
                services.Message(device, payload(device, kind, fmt, at, wet=False), site_code="")
                for device, kind, _z, _n, _i, _b, fmt in SENSORS
            ]
            results = services.ingest(batch, channel=Channel.HTTP, site=site, now=now)
            readings += sum(1 for r in results if r.status == "accepted")
        services.rollup(now)
    return SeedReport(len(SENSORS), readings, created)


def quiet_value(kind: str, at: datetime, *, wet: bool) -> Any:
    """A plausible value for the hour of the day: cooler and damper at night."""
    hour = timezone.localtime(at).hour + timezone.localtime(at).minute / 60
    daily = math.sin((hour - 9) / 24 * 2 * math.pi)
    if kind == "humidity":
        return round((88.0 if wet else 68.0 - 6 * daily) + random.uniform(-1, 1), 1)
    if kind == "temperature":
        return round(28.0 + 3 * daily + random.uniform(-0.3, 0.3), 1)
    if kind == "water_level":
        return round((6.0 if wet else 0.0) + random.uniform(0, 0.4), 1)
    if kind == "water_leak":
        return wet
    return kind == "mains_power"  # the power on; smoke, a door (closed), motion: quiet


def payload(device: str, kind: str, fmt: str, at: datetime, *, wet: bool) -> dict[str, Any]:
    """The reading as that sensor's firmware writes it."""
    value = quiet_value(kind, at, wet=wet)
    if fmt == "zigbee2mqtt":
        key = {"door_contact": "contact", "water_leak": "water_leak"}.get(kind, kind)
        reported = (not value) if kind == "door_contact" else value  # contact true = closed
        return {key: reported, "battery": 96, "linkquality": 120, "last_seen": at.isoformat()}
    if fmt == "tasmota":
        return {
            "Time": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M:%S"),
            "Switch1": "ON" if value else "OFF",
        }
    return {
        "id": f"{device}-{at.isoformat(timespec='seconds')}",
        "at": at.isoformat(),
        "value": value,
    }


# ---------------------------------------------------------------------------------------------
# The simulator


@dataclass
class Simulator:
    """Sends a round of readings for every simulated sensor of ``site`` each ``every`` seconds:
    to ``POST /api/v1/readings`` of ``base_url`` with a device token, or to the MQTT broker.
    From ``leak_at`` (local time; or at once with ``leak_now``), hall B's floor sensor is wet
    and its humidity climbs: a critical alarm and an incident."""

    site: Site
    every: float = 60.0
    mqtt_url: str = ""
    base_url: str = ""
    leak_at: str = ""
    leak_now: bool = False
    token: str = ""

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or settings.PUBLIC_URL).rstrip("/")
        self._client: Any = None

    def leaking(self, at: datetime) -> bool:
        """From ``leak_at`` until 06:00 the next morning (the rain stops, the roof is patched)."""
        if self.leak_now:
            return True
        if not self.leak_at:
            return False
        hour, minute = (int(part) for part in self.leak_at.split(":"))
        local = timezone.localtime(at)
        since_start = (local.hour * 60 + local.minute - hour * 60 - minute) % (24 * 60)
        lasts = (6 * 60 - hour * 60 - minute) % (24 * 60)
        return since_start < lasts

    def round(self, at: datetime | None = None) -> int:
        """One reading per sensor; how many were sent."""
        at = at or timezone.now()
        wet = self.leaking(at)
        sent = 0
        for device, kind, zone, _name, _interval, _battery, fmt in SENSORS:
            leak_here = wet and zone == "Gudang B" and kind in ("water_leak", "humidity")
            body = payload(device, kind, fmt, at, wet=leak_here)
            if self.mqtt_url:
                self._publish(device, body)
            else:
                self._post(device, body)
            sent += 1
        return sent

    def _post(self, device: str, body: dict[str, Any]) -> None:
        data = json.dumps({"site": self.site.code, "readings": [{"sensor": device, **body}]})
        request = urllib.request.Request(  # noqa: S310 - the configured SIAGA address
            f"{self.base_url}/api/v1/readings",
            data=data.encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def _publish(self, device: str, body: dict[str, Any]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from siaga.hazards.mqtt import parse_url

        if self._client is None:
            broker = parse_url(self.mqtt_url)
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"siaga-sim-{uuid.uuid4().hex[:8]}"
            )
            if broker.username:
                self._client.username_pw_set(broker.username, broker.password or None)
            if broker.tls:
                self._client.tls_set()
            self._client.connect(broker.host, broker.port)
            self._client.loop_start()
        topic = f"{settings.MQTT_TOPIC_PREFIX}/{self.site.code}/{device}/reading"
        self._client.publish(topic, json.dumps(body), qos=1).wait_for_publish(timeout=10)

    def run(self, *, rounds: int = 0, stopped: Callable[[], bool] = lambda: False) -> int:
        """Round after round (``rounds`` of them; 0: until stopped)."""
        done = 0
        while not stopped() and (rounds == 0 or done < rounds):
            try:
                self.round()
            except OSError as exc:  # SIAGA or the broker not up yet: try again next round
                logger.warning("simulated readings not sent: %s", exc)
            done += 1
            if rounds == 0 or done < rounds:
                time.sleep(self.every)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        return done

"""Sensor readings through MQTT: sustained readings per second with rule evaluation, reading-to-
alarm latency, and the subscriber's memory from start to end.

    .venv/bin/python bench/sensors.py [--seconds 30] [--rate 6000] [--sensors 200]
    .venv/bin/python bench/sensors.py --seconds 600          # the issue's 10-minute memory run
    SIAGA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/siaga_bench \
        .venv/bin/python bench/sensors.py

Real processes against the real Mosquitto (``--broker``, default mqtt://127.0.0.1:1883): one
``siaga mqtt`` subscribes (its own client id and topic prefix for this run, so nothing else on
the broker is touched), and a publisher process sends QoS 1 readings at ``--rate`` per second
in all, paced in 10 ms slices, for ``--seconds``. The database is a fresh SQLite one under a
temporary SIAGA_HOME, or the one SIAGA_DATABASE_URL names, which is emptied first (never point
it at real data). Set-up goes through the services: the OKU Timur warehouse, two storage halls
and an office, and ``--sensors`` sensors (humidity, temperature, water leak, door contact,
smoke) with their kinds' default rules — so every reading runs through rule evaluation.

Values stay in the normal band (no alarm), except ``--leaks`` water-leak sensors that turn wet
and dry again by turns, one every ``--leak-every`` seconds: every wet reading raises a critical
alarm through the alarm service (which opens an incident), every dry one clears it.
Reading-to-alarm latency is the alarm row's creation time minus the time the reading was
published (both this machine's clock).

Figures: the publisher's achieved rate; the readings stored per second over the run (the
subscriber keeping up means stored = published, with the backlog at the end drained within a
second or two); the alarm latency p50/p95/p99/max; the subscriber's RSS after the warm-up, every
``--rss-every`` seconds, and at the end; and that nothing was lost or stored twice.

Targets (issue #14): at least 5,000 readings per second sustained through MQTT with rule
evaluation; reading-to-alarm p99 under 500 ms; memory flat over a 10-minute run.

Mosquitto keeps 1000 queued messages per client by default (``max_queued_messages``) besides
those in flight (the subscriber asks for SIAGA_MQTT_RECEIVE_MAXIMUM, 4000): a subscriber that
falls further behind than that loses messages at the broker, and the bench says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITE = "GUDANG-16.08"


@dataclass
class World:
    devices: list[tuple[str, str]]  # (device id, kind)
    leaks: list[str]
    environment: dict[str, str]
    vendor: str


def setup(home: Path, sensors: int, leaks: int) -> World:
    """A migrated database with the warehouse and its sensors; see the module's docstring."""
    os.environ["SIAGA_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siaga.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    from siaga.accounts.choices import AgencyKind
    from siaga.accounts.models import Agency, AgencyUnit
    from siaga.hazards import services
    from siaga.regions.services import load_regions
    from siaga.sites.choices import SiteKind, ZoneKind
    from siaga.sites.models import Site, Zone

    load_regions()
    kpu = Agency.objects.create(kind=AgencyKind.KPU, name="KPU")
    unit = AgencyUnit.objects.create(agency=kpu, region_id="16.08", name="KPU OKU Timur")
    site = Site.objects.create(
        code=SITE,
        name="Gudang Logistik KPU OKU Timur",
        kind=SiteKind.WAREHOUSE,
        region_id="16.08.01.1008",
        owner_unit=unit,
    )
    zones = [
        Zone.objects.create(site=site, name="Gudang A", kind=ZoneKind.STORAGE, restricted=True),
        Zone.objects.create(site=site, name="Gudang B", kind=ZoneKind.STORAGE, restricted=True),
        Zone.objects.create(site=site, name="Kantor", kind=ZoneKind.OFFICE),
    ]
    kinds = ["humidity", "temperature", "water_leak", "door_contact", "smoke"]
    devices: list[tuple[str, str]] = []
    leak_ids: list[str] = []
    for n in range(leaks):
        device = f"WL-X-{n:03d}"
        services.create_sensor(
            actor=None,
            site_id=site.pk,
            zone_id=zones[n % 2].pk,
            device_id=device,
            kind="water_leak",
        )
        leak_ids.append(device)
    for n in range(sensors):
        kind = kinds[n % len(kinds)]
        device = f"{kind[:3].upper()}-{n:04d}"
        services.create_sensor(
            actor=None, site_id=site.pk, zone_id=zones[n % 3].pk, device_id=device, kind=kind
        )
        devices.append((device, kind))
    vendor = connection.vendor
    connection.close()
    environment = dict(os.environ)
    environment["SIAGA_HOME"] = str(home)
    return World(devices, leak_ids, environment, vendor)


def normal_value(kind: str, n: int) -> Any:
    if kind == "humidity":
        return round(60 + (n % 100) / 10, 1)
    if kind == "temperature":
        return round(27 + (n % 30) / 10, 1)
    if kind == "door_contact":
        return 0  # closed: a door opening in a locked zone would be an alarm
    return False


def publish(
    broker: str,
    prefix: str,
    devices: list[tuple[str, str]],
    leaks: list[str],
    rate: int,
    seconds: float,
    leak_every: float,
    conn: Any,
) -> None:
    """The publisher's process: QoS 1 at ``rate`` per second; every ``leak_every`` seconds one
    of the leak sensors turns wet or dry by turns (an alarm raised or cleared)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from siaga.hazards.mqtt import parse_url

    address = parse_url(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(20000)
    client.connect(address.host, address.port)
    # One thread: paho's own network thread would starve behind the publishing loop (the GIL),
    # its acknowledgements unread, until every message id is in use.
    pump(client, 0.5)
    run = uuid.uuid4().hex[:8]
    topics = [f"{prefix}/{SITE}/{device}/reading" for device, _kind in devices]
    leak_topics = [f"{prefix}/{SITE}/{device}/reading" for device in leaks]
    wet = [False] * len(leaks)
    conn.send("ready")
    conn.recv()
    started = time.monotonic()
    sent = leak_sent = 0
    next_leak = started
    infos = []
    while True:
        now = time.monotonic()
        elapsed = now - started
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + 1
        while sent < due:
            i = sent % len(devices)
            payload = json.dumps(
                {"id": f"{run}-{sent}", "value": normal_value(devices[i][1], sent)}
            ).encode()
            send(client, topics[i], payload)
            sent += 1
        if leaks and now >= next_leak:
            j = leak_sent % len(leaks)
            wet[j] = not wet[j]
            at = time.time()
            payload = json.dumps(
                {"id": f"{run}-leak-{leak_sent}", "value": wet[j], "at": _iso(at)}
            ).encode()
            infos.append(send(client, leak_topics[j], payload))
            leak_sent += 1
            next_leak += leak_every
        pump(client, 0.01)
    publish_seconds = time.monotonic() - started
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(info.is_published() for info in infos[-50:]):
        pump(client, 0.05)
    client.disconnect()
    pump(client, 0.1)
    conn.send((sent, leak_sent, publish_seconds))


def pump(client: Any, seconds: float) -> None:
    """Write what is queued and read the acknowledgements, for about ``seconds``."""
    import select

    end = time.monotonic() + seconds
    while True:
        sock = client.socket()
        if sock is None:
            return
        remaining = max(0.0, end - time.monotonic())
        writing = [sock] if client.want_write() else []
        readable, writable, _ = select.select([sock], writing, [], remaining)
        if writable:
            client.loop_write()
        if readable:
            client.loop_read()
        client.loop_misc()
        if time.monotonic() >= end and not client.want_write():
            return


def send(client: Any, topic: str, payload: bytes) -> Any:
    """QoS 1; while the broker's acknowledgements lag (every message id in use), wait."""
    while True:
        info = client.publish(topic, payload, qos=1)
        if info.rc == 0:
            return info
        pump(client, 0.002)


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="microseconds")


def rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


class Reader:
    """Follows ``siaga mqtt --stats-every``'s lines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.accepted = 0
        self.received = 0
        self.last: dict[str, int] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            fields = dict(re.findall(r"(\w+)=(\d+)", line))
            if "accepted" in fields:
                with self.lock:
                    self.last = {k: int(v) for k, v in fields.items()}
                    self.accepted = self.last["accepted"]
                    self.received = self.last["received"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=6000, help="readings per second in all")
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--leaks", type=int, default=20)
    parser.add_argument(
        "--leak-every", type=float, default=0.5, help="seconds between leak transitions"
    )
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds before RSS is first read"
    )
    parser.add_argument("--rss-every", type=float, default=0.0, help="default: seconds / 6")
    parser.add_argument("--keep", action="store_true", help="keep the temporary SIAGA_HOME")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="siaga-bench-sensors-"))
    print(f"SIAGA_HOME {home}; setting up {args.sensors} sensors and {args.leaks} leak sensors…")
    world = setup(home, args.sensors, args.leaks)
    prefix = f"siaga-bench-{uuid.uuid4().hex[:8]}"
    environment = {
        **world.environment,
        "SIAGA_MQTT_URL": args.broker,
        "SIAGA_MQTT_CLIENT_ID": f"{prefix}-ingest",
        "SIAGA_MQTT_TOPIC_PREFIX": prefix,
        "SIAGA_LOG_LEVEL": "WARNING",
    }
    subscriber = subprocess.Popen(
        [
            sys.executable,
            *os.environ.get("BENCH_PROFILE", "").split(),
            "-m",
            "siaga.cli",
            "mqtt",
            "--stats-every",
            "0.5",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    reader = Reader(subscriber)
    try:
        time.sleep(3)  # connected and subscribed (its session is made before anything is sent)
        parent, child = multiprocessing.Pipe()
        publisher = multiprocessing.Process(
            target=publish,
            args=(
                args.broker,
                prefix,
                world.devices,
                world.leaks,
                args.rate,
                args.seconds,
                args.leak_every,
                child,
            ),
        )
        publisher.start()
        assert parent.recv() == "ready"
        parent.send("go")
        started = time.monotonic()
        samples: list[tuple[float, int, int]] = []  # (t, accepted, rss)
        every = args.rss_every or max(args.seconds / 6, 1.0)
        next_sample = started + min(args.warmup, args.seconds / 3)
        while publisher.is_alive():
            time.sleep(0.1)
            now = time.monotonic()
            if now >= next_sample:
                with reader.lock:
                    samples.append((now - started, reader.accepted, rss_kb(subscriber.pid)))
                next_sample += every
        sent, leak_sent, publish_seconds = parent.recv()
        publisher.join()
        total = sent + leak_sent
        ended = time.monotonic()
        with reader.lock:
            at_end = reader.accepted
        while time.monotonic() - ended < 60:
            with reader.lock:
                if reader.received >= total:
                    break
            time.sleep(0.1)
        drained = time.monotonic() - ended
        time.sleep(0.6)
        with reader.lock:
            final = dict(reader.last)
        samples.append(
            (time.monotonic() - started, final.get("accepted", 0), rss_kb(subscriber.pid))
        )
    finally:
        subscriber.terminate()
        try:
            subscriber.wait(timeout=15)
        except subprocess.TimeoutExpired:
            subscriber.kill()
    report(world, args, sent, leak_sent, publish_seconds, at_end, drained, final, samples, total)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


def report(
    world: World,
    args: argparse.Namespace,
    sent: int,
    leak_sent: int,
    publish_seconds: float,
    at_end: int,
    drained: float,
    final: dict[str, int],
    samples: list[tuple[float, int, int]],
    total: int,
) -> None:
    from django.db.models import Count

    from siaga.alarms.models import Alarm
    from siaga.hazards.models import Reading

    stored = Reading.objects.count()
    twice = (
        Reading.objects.values("sensor_id", "key").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    latencies = []
    for alarm in Alarm.objects.filter(source="hazards", kind="water_leak").only(
        "created_at", "first_raised_at"
    ):
        latencies.append((alarm.created_at - alarm.first_raised_at).total_seconds() * 1000)
    raised = len(latencies)
    with_incident = Alarm.objects.filter(source="hazards", incident__isnull=False).count()
    print()
    print(f"database: {world.vendor}; {args.sensors + args.leaks} sensors; broker {args.broker}")
    print(
        f"published: {total:,} readings in {publish_seconds:.1f} s = "
        f"{total / publish_seconds:,.0f}/s "
        f"(target rate {args.rate:,}/s; {leak_sent} of them leak transitions)"
    )
    print(
        f"stored:    {stored:,} readings; by the publisher's end {at_end:,} "
        f"({at_end / publish_seconds:,.0f}/s over the run); "
        f"backlog drained {drained:.1f} s later; "
        f"overall {stored / (publish_seconds + drained):,.0f}/s"
    )
    print(
        f"subscriber: received {final.get('received', 0):,}, "
        f"accepted {final.get('accepted', 0):,}, "
        f"duplicates {final.get('duplicates', 0)}, rejected {final.get('rejected', 0)}, "
        f"{final.get('batches', 0):,} batches, {final.get('retries', 0)} retries"
    )
    lost = total - stored
    print(f"lost: {lost:,}; stored twice: {twice}")
    print(
        f"alarms: {raised} raised ({with_incident} opened an incident); reading-to-alarm "
        f"p50 {percentile(latencies, 0.5):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies, default=float('nan')):.0f} ms"
    )
    if samples:
        first, last = samples[0], samples[-1]
        trail = ", ".join(f"{t:.0f}s {rss / 1024:.1f}" for t, _n, rss in samples)
        print(
            f"subscriber RSS (MiB): {trail}; "
            f"start {first[2] / 1024:.1f} -> end {last[2] / 1024:.1f} "
            f"({(last[2] - first[2]) / 1024:+.1f})"
        )
    rate = at_end / publish_seconds
    p99 = percentile(latencies, 0.99)
    print(
        f"targets: >= 5,000 readings/s sustained: "
        f"{'met' if rate >= 5000 and lost == 0 else 'NOT met'} "
        f"({rate:,.0f}/s); alarm p99 < 500 ms: {'met' if p99 < 500 else 'NOT met'} ({p99:.0f} ms)"
    )


if __name__ == "__main__":
    main()

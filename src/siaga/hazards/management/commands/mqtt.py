"""``siaga mqtt``: the MQTT subscriber for sensor readings (siaga.hazards.mqtt), until Ctrl-C or
SIGTERM. The worker runs the same loop (``hazards.mqtt``) where SIAGA_MQTT_URL is set: run it in
one place only — one client id is one session, and a second connection takes it over."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.hazards.mqtt import Subscriber


class Command(BaseCommand):
    help = "Subscribe to siaga/+/+/reading on SIAGA_MQTT_URL and ingest the readings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="the broker (default: SIAGA_MQTT_URL)")
        parser.add_argument("--client-id", default="", help="default: SIAGA_MQTT_CLIENT_ID")
        parser.add_argument("--prefix", default="", help="default: SIAGA_MQTT_TOPIC_PREFIX")
        parser.add_argument(
            "--stats-every", type=float, default=0.0, help="print counts every N seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.MQTT_URL
        if not url:
            raise CommandError("No broker: set SIAGA_MQTT_URL (e.g. mqtt://127.0.0.1:1883).")
        subscriber = Subscriber(
            url=url, client_id=options["client_id"] or None, prefix=options["prefix"] or None
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        every = options["stats_every"]
        if every > 0:
            threading.Thread(
                target=self._report, args=(subscriber, stop, every), daemon=True
            ).start()
        self.stdout.write(
            f"Subscribed to {subscriber.topic} on {subscriber.broker.host}:"
            f"{subscriber.broker.port} as {subscriber.client_id}."
        )
        subscriber.run(stop)
        self._line(subscriber)

    def _report(self, subscriber: Subscriber, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            self._line(subscriber)

    def _line(self, subscriber: Subscriber) -> None:
        s = subscriber.stats
        self.stdout.write(
            f"{time.strftime('%H:%M:%S')} received={s.received} accepted={s.accepted} "
            f"duplicates={s.duplicates} rejected={s.rejected} batches={s.batches} "
            f"retries={s.retries} connects={s.connects}"
        )
        self.stdout.flush()

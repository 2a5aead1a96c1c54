"""``siaga hazards``: the simulated sensors of a site (``simulate``), a device token for a
site's gateway (``token``), and the roll-up job run by hand (``rollup``)."""

from __future__ import annotations

import re
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.hazards import demo, services
from siaga.sites.models import Site


class Command(BaseCommand):
    help = "Hazard watch: simulate a site's sensors, issue a device token, roll up readings."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        simulate = sub.add_parser("simulate", help="send simulated readings for a site")
        simulate.add_argument("--site", required=True, help="the site's code, e.g. GUDANG-16.08")
        simulate.add_argument(
            "--mqtt", action="store_true", help="publish to SIAGA_MQTT_URL instead of HTTP"
        )
        simulate.add_argument("--url", default="", help="SIAGA's address (default: PUBLIC_URL)")
        simulate.add_argument("--leak-at", default="", help="HH:MM local: hall B leaks then")
        simulate.add_argument("--leak-now", action="store_true", help="hall B leaks at once")
        simulate.add_argument("--every", type=float, default=60.0, help="seconds per round")
        simulate.add_argument("--rounds", type=int, default=0, help="0: until stopped")
        token = sub.add_parser("token", help="issue a device token for a site (shown once)")
        token.add_argument("--site", required=True)
        token.add_argument("--name", default="gateway")
        sub.add_parser("rollup", help="hourly aggregates and the purge, now")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "rollup":
            self.stdout.write(str(services.rollup()))
            return
        site = Site.objects.filter(code=options["site"]).first()
        if site is None:
            raise CommandError(f"No site with the code {options['site']!r}.")
        if action == "token":
            _token, raw = services.issue_device_token(
                actor=None, site_id=site.pk, name=options["name"]
            )
            self.stdout.write(raw)
            return
        if options["leak_at"] and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", options["leak_at"]):
            raise CommandError("--leak-at is HH:MM, e.g. 23:40.")
        mqtt_url = settings.MQTT_URL if options["mqtt"] else ""
        if options["mqtt"] and not mqtt_url:
            raise CommandError("--mqtt needs SIAGA_MQTT_URL.")
        demo.seed(site)
        token = ""
        if not mqtt_url:
            _token, token = services.issue_device_token(
                actor=None, site_id=site.pk, name="simulator"
            )
        simulator = demo.Simulator(
            site=site,
            every=options["every"],
            mqtt_url=mqtt_url,
            base_url=options["url"],
            leak_at=options["leak_at"],
            leak_now=options["leak_now"],
            token=token,
        )
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        how = f"MQTT {mqtt_url}" if mqtt_url else f"HTTP {simulator.base_url}/api/v1/readings"
        self.stdout.write(f"Simulating {len(demo.SENSORS)} sensors at {site.code} through {how}.")
        try:
            rounds = simulator.run(rounds=options["rounds"], stopped=lambda: stop["now"])
        except KeyboardInterrupt:
            rounds = 0
        self.stdout.write(f"{rounds} rounds sent.")

"""``siaga demo``: a working SIAGA on this machine in one command.

Creates SIAGA_HOME, migrates, loads regions, builds the OKU Timur world, prints the demo
accounts, then runs the web server and a worker until Ctrl-C. Running it again reuses the data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from siaga.demo.access import GateDay, build_gate_day
from siaga.demo.incidents import build_incidents
from siaga.demo.logistics import build_logistics
from siaga.demo.world import build_world, demo_second_factor_accounts, witness_demo_ledger
from siaga.hazards.demo import seed as seed_sensors
from siaga.regions.models import Region
from siaga.regions.services import load_regions
from siaga.sites.models import Site
from siaga.weather import demo as weather_demo


class Command(BaseCommand):
    help = "Set up the demo data and run the web server and a worker (Ctrl-C stops both)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--setup-only", action="store_true", help="build the demo data, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self.stdout.write(f"SIAGA home: {settings.SIAGA_HOME}")
        settings.SIAGA_HOME.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        if not Region.objects.filter(code="16.08").exists():
            report = load_regions()
            self.stdout.write(f"Regions loaded: {report.total} from {report.source}.")
        else:
            self.stdout.write(f"Regions present: {Region.objects.count()}.")
        world = build_world(settings.DEMO_PASSWORD)
        self.stdout.write(
            f"Demo world ready: {world.sites} sites, {world.tps} TPS in OKU Timur with "
            f"{world.voters:,} synthetic voters ({time.monotonic() - started:.1f} s)."
        )
        night = build_incidents()
        self.stdout.write(
            f"Incident {night.incident.reference}: last night's roof leak in Gudang B, "
            "escalated to the Kabag Ops and the KPU chair before the commissioner answered."
        )
        weather = weather_demo.seed()
        self.stdout.write(
            "Weather: BMKG warns of heavy rain over Martapura (OKU Timur); the warehouse's "
            "guards and operators have the preventive steps"
            + (f" ({weather.sites} sites covered)." if weather else " (already in force).")
        )
        gate_started = time.monotonic()
        gate_day = build_gate_day()
        self.stdout.write(_gate_line(gate_day, time.monotonic() - gate_started))
        logistics_started = time.monotonic()
        logistics = build_logistics()
        self.stdout.write(
            f"Logistics: voting day {logistics.voting_day:%a %d %b %Y} (H-3); "
            f"{logistics.packages} sealed packages for {logistics.tps} TPS of Martapura and "
            f"Cempaka, {logistics.handovers} BASTs; a seal mismatch at PPK Martapura (opened "
            f"and resealed before witnesses), the DPD ballots 40 short, PPS "
            f"{logistics.late_pps} late; {logistics.open_discrepancies} open discrepancies "
            f"({'built' if logistics.created else 'already built'}, "
            f"{time.monotonic() - logistics_started:.1f} s)."
        )
        from siaga.safety.demo import seed as seed_safety

        safety = seed_safety(Site.objects.get(code="GUDANG-16.08"))
        self.stdout.write(
            f"Safety equipment: {safety.items} items in the OKU Timur warehouse (APARs, smoke "
            f"detectors, a pump, lightning protection); {safety.alarms} expired APAR alarmed, "
            f"{safety.reminded} reminders sent."
        )
        sensors = seed_sensors(Site.objects.get(code="GUDANG-16.08"))
        self.stdout.write(
            f"Sensors: {sensors.sensors} simulated in the Martapura warehouse, "
            f"{sensors.readings:,} readings of the last day; the simulator leaks hall B's roof "
            "at 23:40."
        )
        witnessed = witness_demo_ledger()
        if witnessed:
            self.stdout.write(
                f"Ledger: checkpoint at {witnessed[0]} entries, co-signed by the Bawaslu "
                f"witness key {witnessed[1]}. Check it yourself:\n"
                f"  siaga ledger export ledger.jsonl && python -m siaga.ledger.verify "
                f'ledger.jsonl --key "$(siaga ledger key)"'
            )
        self._print_accounts(world.accounts)
        if options["setup_only"]:
            return
        self._run(options["host"], options["port"])

    def _print_accounts(self, accounts: list[Any]) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo accounts (password: {settings.DEMO_PASSWORD}):")
        for account in accounts:
            self.stdout.write(f"  {account.username:<17} {account.what}")
        self.stdout.write("")
        second = demo_second_factor_accounts()
        self.stdout.write(
            f"Second factor for {', '.join(second)}: the demo authenticator secret "
            f"{settings.DEMO_TOTP_SECRET} (add it to any authenticator app), or "
            "`siaga demo_otp <username>` prints the current code."
        )
        self.stdout.write("")

    def _run(self, host: str, port: int) -> None:
        cli = [sys.executable, "-m", "siaga.cli"]
        env = dict(os.environ, SIAGA_HOME=str(settings.SIAGA_HOME))
        # Our own interpreter and our own command: no untrusted input reaches these.
        commands = {
            "web server": [*cli, "serve", "--host", host, "--port", str(port), "--workers", "2"],
            "worker": [*cli, "worker", "--verbosity", "0", "--name", "demo"],
            # Simulated sensors: HTTP to this server, MQTT where a broker is configured.
            "sensors": [
                *cli,
                "hazards",
                "simulate",
                "--site",
                "GUDANG-16.08",
                "--leak-at",
                "23:40",
                "--url",
                f"http://{'[' + host + ']' if ':' in host else host}:{port}",
                *(["--mqtt"] if settings.MQTT_URL else []),
            ],
        }
        children = {
            name: subprocess.Popen(command, env=env)  # noqa: S603
            for name, command in commands.items()
        }
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(
            self.style.SUCCESS(f"SIAGA runs at http://{shown}:{port}/ — Ctrl-C stops.")
        )

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        # A child that dies is started again, as a service manager would (Restart=always),
        # waiting longer each time it dies again within a minute.
        restarts = dict.fromkeys(commands, 0)
        died_at = dict.fromkeys(commands, 0.0)
        try:
            while True:
                time.sleep(0.5)
                for name, child in children.items():
                    if child.poll() is None:
                        continue
                    now = time.monotonic()
                    restarts[name] = restarts[name] + 1 if now - died_at[name] < 60 else 1
                    died_at[name] = now
                    wait = min(30, 2 ** (restarts[name] - 1))
                    self.stderr.write(
                        f"siaga demo: the {name} stopped (exit {child.returncode}); "
                        f"starting it again in {wait} s."
                    )
                    time.sleep(wait)
                    children[name] = subprocess.Popen(commands[name], env=env)  # noqa: S603
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children.values():
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()


def _gate_line(day: GateDay, seconds: float) -> str:
    parts = []
    if day.day is not None:
        parts.append(
            f"{day.day:%a %d %b} the printer's truck 07:30-08:10, {day.workers} sortir-lipat "
            "workers in Gudang A, a saksi without a letter refused"
        )
    if day.evening is not None:
        parts.append(
            f"{day.evening:%a %d %b} 21:00 a journalist let in after hours on the KPU chair's "
            "approval"
        )
    written = f"{day.steps_written} steps written" if day.created else "already built"
    return (
        f"Gate day: {'; '.join(parts)}. Inside now: {day.inside} ({day.overstaying} past "
        f"their planned end); {day.gate_events} gate events ({written}, {seconds:.1f} s)."
    )

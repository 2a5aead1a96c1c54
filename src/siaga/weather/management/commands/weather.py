"""``siaga weather``: ingest BMKG's warnings from a file or URL, or poll the configured feeds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siaga.weather import services
from siaga.weather.services.fetching import Report


class Command(BaseCommand):
    help = "Weather warnings: ingest an RSS feed or a CAP 1.2 document, or poll the feeds."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ingest = sub.add_parser(
            "ingest", help="an RSS feed of CAP alerts, or one CAP 1.2 document (path or URL)"
        )
        ingest.add_argument("source")
        sub.add_parser("poll", help="read every feed in SIAGA_WEATHER_FEEDS once")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "poll":
            reports = services.poll()
            for report in reports:
                self._print(report)
            self.stdout.write(f"{len(reports)} feeds read.")
            return
        report = services.ingest_source(options["source"])
        self._print(report)
        if report.failed:
            raise CommandError(f"{report.problems[0]['code']}: {report.problems[0]['message']}")

    def _print(self, report: Report) -> None:
        self.stdout.write(
            f"{report.feed.source}: {report.documents} documents, "
            f"{report.count('created')} new warnings, {report.count('language_added')} new "
            f"languages, {report.count('duplicate')} already known, "
            f"{len(report.problems)} problems; feed {report.feed.freshness()}."
        )
        for outcome in report.outcomes:
            if outcome.warning is not None and outcome.result != "duplicate":
                self.stdout.write(
                    f"  {outcome.result}: {outcome.warning.identifier} "
                    f"({outcome.warning.msg_type}, {outcome.warning.severity}), "
                    f"{outcome.sites} sites"
                    + (f", ends {', '.join(outcome.ended)}" if outcome.ended else "")
                )
        for problem in report.problems:
            self.stdout.write(f"  {problem['code']}: {problem['where']} — {problem['message']}")

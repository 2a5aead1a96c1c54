"""Prometheus metrics (prometheus-client): request latency from every web process, and what the
database knows — outbox depth and age, deliveries by outcome, open alarms, workers' heartbeats,
the ledger's size and checkpoint age — read when Prometheus scrapes.

``siaga serve`` runs several processes: it sets ``PROMETHEUS_MULTIPROC_DIR`` (under SIAGA_HOME)
before they start, so each writes its samples there and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.apps import apps as django_apps
from django.db.models import Count, Min, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "siaga_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class RequestMetricsMiddleware:
    """First in the chain: times every request, labelled by its URL pattern (not its path: a
    path holds ids, and would give every package its own series)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else "unmatched"
        REQUEST_SECONDS.labels(
            request.method or "", route, f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        return response


class DatabaseCollector(Collector):
    """What every process would count alike is read from the database at scrape time."""

    def collect(self) -> Iterator[Any]:
        from siaga.alarms.models import Alarm
        from siaga.core.models import WorkerHeartbeat
        from siaga.ledger.models import Checkpoint
        from siaga.ledger.services import tree_size
        from siaga.notify.models import Message
        from siaga.ops.models import SystemAlarm

        now = timezone.now()
        by_state = CounterMetricFamily(
            "siaga_notify_messages",
            "Outbox messages by state (sent and dead are deliveries' outcomes so far).",
            labels=["channel", "state"],
        )
        for channel, state, count in (
            Message.objects.exclude(channel="inapp")
            .values_list("channel", "state")
            .annotate(Count("id"))
            .order_by()
        ):
            by_state.add_metric([channel, state], count)
        yield by_state
        pending = Message.objects.filter(state="pending").exclude(channel="inapp")
        depth = GaugeMetricFamily("siaga_notify_outbox_depth", "Messages not yet delivered.")
        depth.add_metric([], pending.count())
        yield depth
        oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
        age = GaugeMetricFamily(
            "siaga_notify_outbox_oldest_seconds", "Age of the oldest undelivered message."
        )
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield age
        alarms = GaugeMetricFamily(
            "siaga_alarms_active", "Active alarms by severity.", labels=["severity"]
        )
        for severity, count in (
            Alarm.objects.filter(active=True)
            .values_list("severity")
            .annotate(Count("id"))
            .order_by()
        ):
            alarms.add_metric([severity], count)
        yield alarms
        system = GaugeMetricFamily(
            "siaga_system_alarms_active", "SIAGA's own active alarms by check.", labels=["check"]
        )
        for check in SystemAlarm.objects.filter(active=True).values_list("check_name", flat=True):
            system.add_metric([check], 1)
        yield system
        beats = GaugeMetricFamily(
            "siaga_worker_heartbeat_age_seconds",
            "Seconds since each running worker's last heartbeat.",
            labels=["worker"],
        )
        for name, beat_at in WorkerHeartbeat.objects.filter(stopped_at__isnull=True).values_list(
            "name", "beat_at"
        ):
            beats.add_metric([name], (now - beat_at).total_seconds())
        yield beats
        size = GaugeMetricFamily("siaga_ledger_entries", "Entries in the ledger.")
        size.add_metric([], tree_size())
        yield size
        last = Checkpoint.objects.order_by("-size").values_list("signed_at", flat=True).first()
        checkpoint = GaugeMetricFamily(
            "siaga_ledger_checkpoint_age_seconds", "Seconds since the last signed checkpoint."
        )
        checkpoint.add_metric([], (now - last).total_seconds() if last else 0.0)
        yield checkpoint
        if django_apps.is_installed("siaga.hazards"):
            yield from _hazards()


def _hazards() -> Iterator[Any]:
    """Sensor messages rejected (and replays counted as duplicates), by channel and code."""
    from siaga.hazards.models import RejectCounter

    rejected = CounterMetricFamily(
        "siaga_hazards_rejected_messages",
        "Sensor messages rejected, by channel and code (reading_duplicate: replays).",
        labels=["channel", "code"],
    )
    for channel, code, total in (
        RejectCounter.objects.values_list("channel", "code").annotate(Sum("count")).order_by()
    ):
        rejected.add_metric([channel, code], total or 0)
    yield rejected


def exposition() -> HttpResponse:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

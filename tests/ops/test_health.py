"""/readyz, the operations watch's system alarms, /metrics and the operations page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from siaga.accounts.models import User
from siaga.core.models import WorkerHeartbeat
from siaga.ledger import services as ledger
from siaga.notify.models import Message
from siaga.ops import health, services
from siaga.ops.models import SystemAlarm

pytestmark = pytest.mark.django_db

CHECKS = ["database", "migrations", "disk", "workers", "outbox", "checkpoint"]


def beat(
    name: str, *, ago: float = 0, stopped: bool = False, parts: dict[str, Any] | None = None
) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        name=name,
        host="gudang-1",
        pid=4242,
        started_at=now - timedelta(hours=1),
        beat_at=now - timedelta(seconds=ago),
        stopped_at=now if stopped else None,
        parts=parts or {},
    )


@pytest.fixture
def ready(settings: Any) -> None:
    settings.READY_MIN_FREE_MB = 0
    beat("worker-a")


def states(answer: dict[str, Any]) -> dict[str, bool]:
    return {check["name"]: check["ok"] for check in answer["checks"]}


def test_ready_when_every_check_passes(client: Client, ready: None) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert states(body) == dict.fromkeys(CHECKS, True)
    # Anonymous: whether each check passes, not what it saw.
    assert all(set(check) == {"name", "ok"} for check in body["checks"])


def test_no_worker_is_unready_and_says_so_to_an_admin(
    client_for: Any, admin_okut: User, settings: Any
) -> None:
    settings.READY_MIN_FREE_MB = 0
    beat("gone", ago=30, stopped=True)  # stopped on purpose: not alive, not lost
    response = client_for(admin_okut).get("/readyz", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert states(body) == dict.fromkeys(CHECKS, True) | {"workers": False}
    (workers,) = [check for check in body["checks"] if check["name"] == "workers"]
    assert workers["detail"] == {"alive": [], "lost": [], "failing": []}


def test_a_worker_that_stopped_beating_is_lost(ready: None, settings: Any) -> None:
    beat("worker-b", ago=3 * settings.WORKER_HEARTBEAT_SECONDS + 5)
    beat("long-gone", ago=settings.WORKER_FORGET_SECONDS + 5)  # forgotten after an hour
    check = health.workers()
    assert (check.ok, check.severity) == (False, health.MAJOR)
    assert check.detail == {"alive": ["worker-a"], "lost": ["worker-b"], "failing": []}


def test_a_failing_part_is_named_but_does_not_fail_readiness(settings: Any) -> None:
    beat("worker-c", parts={"notify.delivery": {"ok": False, "error": "OperationalError: gone"}})
    check = health.workers()
    assert check.ok is True
    assert check.detail["failing"] == ["worker-c: notify.delivery"]


def test_an_old_undelivered_message_fails_the_outbox(ready: None, admin_okut: User) -> None:
    from siaga.notify.models import Endpoint

    endpoint = Endpoint.objects.create(
        user=admin_okut, channel="email", address="admin@example.org"
    )
    Message.objects.create(
        channel="email",
        endpoint=endpoint,
        user=admin_okut,
        kind="probe",
        title="t",
        dedup_key="probe-1",
        next_attempt_at=timezone.now() - timedelta(minutes=11),
        created_at=timezone.now() - timedelta(minutes=11),
    )
    check = health.outbox()
    assert (check.ok, check.detail["waiting"]) == (False, 1)
    assert check.detail["oldest_seconds"] >= 660


def test_entries_waiting_for_a_checkpoint(ready: None, settings: Any) -> None:
    with transaction.atomic():
        ledger.append(kind="probe", subject=("probe", "1"), payload={"n": 1})
    later = timezone.now() + timedelta(seconds=2 * settings.LEDGER_CHECKPOINT_SECONDS + 61)
    assert health.checkpoint(now=later).ok is False
    ledger.make_checkpoint()
    assert health.checkpoint(now=later).ok is True


def test_low_disk_is_critical_below_a_quarter_of_the_threshold(settings: Any) -> None:
    settings.READY_MIN_FREE_MB = 10**9
    check = health.disk()
    assert (check.ok, check.severity) == (False, health.CRITICAL)
    assert set(check.detail["free_mb"]) >= {"home", "media"}


def test_the_watch_raises_once_tells_the_admins_and_clears(
    ready: None, admin_okut: User, admin_oku: User, guard_okut: User
) -> None:
    WorkerHeartbeat.objects.all().delete()
    with transaction.atomic():
        services.watch()
        services.watch()
    (alarm,) = SystemAlarm.objects.all()
    assert (alarm.check_name, alarm.active, alarm.repeats, alarm.severity) == (
        "workers",
        True,
        2,
        "critical",
    )
    assert alarm.message == (
        "Tidak ada worker yang berjalan: notifikasi, eskalasi, dan checkpoint menunggu."
    )
    told = Message.objects.filter(kind="ops.alarm", channel="inapp")
    assert sorted(told.values_list("user__username", flat=True)) == ["admin.oku", "admin.okut"]
    beat("back")
    services.watch()
    alarm.refresh_from_db()
    assert (alarm.active, alarm.cleared_at is not None) == (False, True)
    assert not SystemAlarm.objects.filter(active=True).exists()


def test_the_operations_page_is_for_admins(
    client_for: Any, admin_okut: User, guard_okut: User, ready: None
) -> None:
    page = client_for(admin_okut).get("/operasi/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="ops-ready" data-ready="1"' in html
    assert 'data-worker="worker-a"' in html
    assert client_for(guard_okut).get("/operasi/").status_code == 403


def test_metrics_need_the_token_or_an_admin(
    client_for: Any, admin_okut: User, guard_okut: User, ready: None, settings: Any
) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    anonymous = Client()
    refused = anonymous.get("/metrics")
    assert (refused.status_code, refused.json()["code"]) == (401, "metrics_token_required")
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client_for(guard_okut).get("/metrics").status_code == 401
    anonymous.get("/readyz")
    scraped = anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert scraped.status_code == 200
    text = scraped.content.decode()
    assert 'siaga_worker_heartbeat_age_seconds{worker="worker-a"}' in text
    assert "siaga_notify_outbox_depth 0.0" in text
    served = 'siaga_http_request_duration_seconds_count{method="GET",route="readyz",status="2xx"}'
    assert served in text
    assert client_for(admin_okut).get("/metrics").status_code == 200


def test_the_grafana_dashboard_asks_only_for_metrics_siaga_serves(
    client_for: Any, admin_okut: User, ready: None
) -> None:
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-siaga.json").read_text())
    asked = {
        name.removesuffix("_bucket").removesuffix("_count")
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bsiaga_[a-z_]+", target["expr"])
    }
    from siaga.notify.models import Endpoint

    endpoint = Endpoint.objects.create(user=admin_okut, channel="email", address="a@example.org")
    Message.objects.create(
        channel="email",
        endpoint=endpoint,
        user=admin_okut,
        kind="probe",
        title="t",
        dedup_key="sent-1",
        state="sent",
    )
    client = client_for(admin_okut)
    client.get("/readyz")
    served = client.get("/metrics").content.decode()
    assert 'siaga_notify_messages_total{channel="email",state="sent"} 1.0' in served
    assert len(asked) >= 9
    for name in sorted(asked):
        base = name.removesuffix("_total")
        assert re.search(rf"^# TYPE {base}(_total)? ", served, re.MULTILINE), name

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siaga.accounts.models import Membership, User
from siaga.demo.world import ACCOUNTS, OKU_TIMUR, build_world, split_voters
from siaga.regions.models import Region
from siaga.sites.models import Site, Zone


def test_split_voters_keeps_every_tps_at_or_under_300() -> None:
    assert split_voters(300) == [300]
    assert split_voters(301) == [151, 150]
    assert split_voters(2900) == [290] * 10
    assert sum(split_voters(1234)) == 1234
    assert max(split_voters(1234)) <= 300


@pytest.mark.django_db
def test_demo_world_is_complete_and_building_it_twice_changes_nothing() -> None:
    Zone.objects.all().delete()
    Site.objects.all().delete()
    report = build_world("siaga-demo-test")
    counts = Counter(
        Site.objects.filter(region__code__startswith=OKU_TIMUR + ".").values_list("kind", flat=True)
    )
    assert counts["warehouse"] == 1
    assert counts["ppk"] == 20
    desa = Region.objects.filter(level=4, code__startswith=OKU_TIMUR + ".")
    tps = Site.objects.filter(kind="tps")
    assert set(tps.values_list("region_id", flat=True)) == set(desa.values_list("code", flat=True))
    assert tps.filter(voters__gt=300).count() == 0
    assert tps.filter(synthetic=False).count() == 0
    assert report.tps == counts["tps"] == tps.count()
    warehouse = Site.objects.get(code="GUDANG-16.08")
    assert warehouse.region.parent_id == "16.08.01"
    assert sorted(warehouse.zones.filter(restricted=True).values_list("name", flat=True)) == [
        "Gudang A",
        "Gudang B",
    ]
    for account in ACCOUNTS[1:]:
        membership = Membership.objects.get(user__username=account.username)
        assert (membership.role, membership.unit.region_id) == (account.role, account.region)
    assert User.objects.get(username="admin").is_superuser
    before = (Site.objects.count(), Zone.objects.count(), Membership.objects.count())
    again = build_world("siaga-demo-test")
    assert (Site.objects.count(), Zone.objects.count(), Membership.objects.count()) == before
    assert again.voters == report.voters


@pytest.mark.django_db
def test_demo_night_leak_escalated_before_the_commissioner_answered() -> None:
    from siaga.demo.incidents import build_incidents
    from siaga.incidents.models import Incident, Notified
    from siaga.ledger.models import Entry

    Zone.objects.all().delete()
    Site.objects.all().delete()
    build_world("siaga-demo-test")
    night = build_incidents()
    incident = night.incident
    assert night.created
    assert (incident.category, incident.severity, incident.state) == ("banjir", 2, "resolved")
    assert incident.reporter is not None and incident.reporter.username == "jaga.okut"
    assert incident.acknowledged_by is not None
    assert incident.acknowledged_by.username == "komisioner.okut"
    assert incident.acknowledged_at is not None
    assert incident.photos.count() == 1
    tiers = dict(Notified.objects.filter(incident=incident).values_list("user__username", "tier"))
    assert tiers == {
        "kapolres.okut": 1,
        "komisioner.okut": 1,
        "bawaslu.okut": 1,
        "kabagops.okut": 2,
        "ketua.okut": 2,
    }
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds[:5] == ["reported", "photo", "escalated", "alarm", "reminded"]
    assert kinds.count("escalated") == 2
    assert kinds.index("acknowledged") > kinds.index("escalated") + 1
    assert kinds[-1] == "resolved"
    ack = incident.acknowledged_at - incident.occurred_at
    assert 20 * 60 <= ack.total_seconds() <= 30 * 60  # about 00:05 for 23:40
    assert Entry.objects.filter(subject_id=str(incident.pk)).count() == len(kinds)
    assert incident.alarms.get().kind == "humidity_high"
    assert incident.links.filter(link_type="alarm").count() == 1
    again = build_incidents()
    assert not again.created and again.incident.pk == incident.pk
    assert sorted(Incident.objects.values_list("state", flat=True)) == [
        "closed",
        "reported",
        "reported",
        "resolved",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until_up(url: str, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"siaga demo exited early:\n{process.stdout.read()}")  # type: ignore[union-attr]
        try:
            if http("GET", url)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_siaga_demo_sets_up_serves_runs_a_worker_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    environment.update({"SIAGA_HOME": str(home), "SIAGA_DEMO_PASSWORD": "demo-pass-123"})
    siaga = [sys.executable, "-m", "siaga.cli"]
    demo = subprocess.Popen(
        [*siaga, "demo", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", demo, seconds=420)
        status, body = http(
            "POST",
            f"{base}/api/v1/auth/token",
            {"username": "kpu.okut", "password": "demo-pass-123"},
        )
        assert status == 201
        status, sites = http("GET", f"{base}/api/v1/sites?limit=1", token=body["token"])
        assert status == 200
        database = home / "siaga.sqlite3"
        with sqlite3.connect(database) as db:
            expected = db.execute(
                "SELECT count(*) FROM sites_site WHERE region_id LIKE '16.08.%'"
            ).fetchone()[0]
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert sites["count"] == expected > 1900
        status, incidents = http("GET", f"{base}/api/v1/incidents", token=body["token"])
        assert status == 200
        # Three in OKU Timur, newest first; the theft across the border in OKU is not shown.
        assert [i["category"] for i in incidents["items"]] == [
            "kerusakan_logistik",
            "banjir",
            "cctv_listrik",
        ]
        status, _ = http(
            "POST",
            f"{base}/api/v1/auth/token",
            {"username": "kpu.okut", "password": "siaga-demo"},
        )
        assert status == 401

        # The worker that the demo started runs a task queued by another process.
        def run_probe(label: str) -> int:
            enqueue = subprocess.run(
                [
                    *siaga,
                    "shell",
                    "-c",
                    "from siaga.core.tasks import record_task_run; "
                    f"record_task_run.enqueue('{label}')",
                ],
                env=environment,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert enqueue.returncode == 0, enqueue.stderr
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with sqlite3.connect(database) as db:
                    row = db.execute(
                        "SELECT worker_pid FROM core_taskrun WHERE label = ?", (label,)
                    ).fetchone()
                if row:
                    return int(row[0])
                time.sleep(0.5)
            raise AssertionError(f"no worker ran {label}")

        first = run_probe("probe")
        with sqlite3.connect(database) as db:
            (beat_pid,) = db.execute(
                "SELECT pid FROM core_workerheartbeat WHERE name = 'demo'"
            ).fetchone()
        assert beat_pid == first
        # A worker that dies (kill -9) is started again by the demo, which keeps serving.
        os.kill(first, signal.SIGKILL)
        second = run_probe("after-the-kill")
        assert second != first
        assert http("GET", f"{base}/healthz")[0] == 200
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    assert "the worker stopped (exit -9); starting it again in 1 s." in output
    assert "kapolres.okut" in output and "demo-pass-123" in output
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # Running it again reuses the data.
    again = subprocess.run(
        [*siaga, "demo", "--setup-only"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert "Regions present: 91599" in again.stdout
    with sqlite3.connect(home / "siaga.sqlite3") as db:
        assert (
            db.execute("SELECT count(*) FROM sites_site WHERE region_id LIKE '16.08.%'").fetchone()[
                0
            ]
            == expected
        )

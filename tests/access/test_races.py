"""Check-ins racing in from two phones (or two web processes) at once: one event per client id,
one person inside once. Runs on SQLite and on PostgreSQL (CI runs both)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from siaga.access import services
from siaga.access.models import GateEvent, Presence, StandingPass
from siaga.accounts.models import User
from siaga.core.errors import Conflict
from siaga.ledger.models import Entry
from tests.access.conftest import Gate, open_all_day

pytestmark = pytest.mark.django_db(transaction=True)


def _race(work: Callable[[int], object], n: int = 4) -> list[object]:
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _valid_now(gate: Gate) -> StandingPass:
    open_all_day(gate.site)
    StandingPass.objects.filter(site=gate.site).update(
        valid_from=timezone.now() - dt.timedelta(days=1)
    )
    return StandingPass.objects.get(pk=gate.operator_pass.pk)


def test_the_same_check_in_racing_in_four_times_is_one_event(gate: Gate, guard_okut: User) -> None:
    badge = _valid_now(gate).qr_payload
    event_id = uuid.uuid4()
    results = _race(lambda _i: services.check_in(actor=guard_okut, id=event_id, badge=badge).obj.pk)
    assert results == [event_id] * 4
    assert GateEvent.objects.filter(pk=event_id).count() == 1
    assert Entry.objects.filter(kind="access.gate.check_in", subject_id=str(event_id)).count() == 1


def test_one_person_checked_in_by_four_phones_at_once_is_inside_once(
    gate: Gate, guard_okut: User
) -> None:
    badge = _valid_now(gate).qr_payload
    ids = [uuid.uuid4() for _ in range(4)]
    results = _race(lambda i: services.check_in(actor=guard_okut, id=ids[i], badge=badge).obj.pk)
    created = [r for r in results if isinstance(r, uuid.UUID)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1, results
    assert [r.code for r in refused] == ["already_inside"] * 3
    assert Presence.objects.filter(visitor=gate.operator_pass.visitor).count() == 1
    assert GateEvent.objects.count() == 1

"""The API under /api/v1/safety/: scoped reads, writes for the roles that may, the replayed
client id, and bad input answered with its code and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.safety.models import Equipment, ServiceRecord
from tests.conftest import World
from tests.safety.conftest import state

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def patch(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def body(world: World, operator_okut: User, today: dt.date) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "site": str(world.warehouse_okut.pk),
        "zone": str(world.hall_a_okut.pk),
        "kind": "fire_extinguisher",
        "variant": "co2",
        "size_kg": "5",
        "serial": "APAR-API-1",
        "location": "Pintu Gudang A",
        "installed_on": (today - dt.timedelta(days=30)).isoformat(),
        "expiry_on": (today + dt.timedelta(days=1800)).isoformat(),
        "next_service_on": (today + dt.timedelta(days=20)).isoformat(),
        "responsible": operator_okut.pk,
    }


def test_an_operator_adds_an_apar_and_a_replay_answers_200_with_the_same_item(
    client_for: Any, operator_okut: User, body: dict[str, Any], today: dt.date
) -> None:
    client = client_for(operator_okut)
    created = post(client, "/api/v1/safety/equipment", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["id"] == body["id"]
    assert (data["kind"], data["variant"], data["size_kg"], data["state"]) == (
        "fire_extinguisher",
        "co2",
        "5.00",
        "in_service",
    )
    assert data["dues"] == [
        {"kind": "service", "on": body["next_service_on"], "days": 20},
        {"kind": "expiry", "on": body["expiry_on"], "days": 1800},
    ]
    assert data["overdue"] is False
    assert data["responsible_name"] == operator_okut.display_name
    again = post(client, "/api/v1/safety/equipment", body)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    before = state()
    conflict = post(client, "/api/v1/safety/equipment", {**body, "size_kg": "9"})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "id_reused"
    assert state() == before
    assert Equipment.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"expiry_on": "2000-01-01"}, 422, "equipment_expiry_before_installation"),
        ({"size_kg": "-5"}, 422, "equipment_size_invalid"),
        ({"size_kg": "NaN"}, 422, "validation_error"),
        ({"site": "00000000-0000-7000-8000-000000000000"}, 422, "site_unknown"),
        ({"zone": "00000000-0000-7000-8000-000000000000"}, 422, "zone_unknown"),
        ({"zone": "other-site"}, 422, "zone_unknown"),
        ({"responsible": "other-region"}, 422, "responsible_out_of_scope"),
        ({"kind": "sprinkler"}, 422, "validation_error"),
        ({"installed_on": "2026-02-30"}, 422, "validation_error"),
    ],
)
def test_bad_input_answers_its_code_and_writes_nothing(
    client_for: Any,
    operator_okut: User,
    kpu_oku: User,
    world: World,
    body: dict[str, Any],
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    named = {
        "other-site": str(world.warehouse_oku.zones.get().pk),
        "other-region": kpu_oku.pk,
    }
    sent = {**body, **{k: named.get(v, v) if isinstance(v, str) else v for k, v in change.items()}}
    before = state()
    response = post(client_for(operator_okut), "/api/v1/safety/equipment", sent)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert state() == before


@pytest.mark.parametrize("persona", ["guard_okut", "bawaslu_okut"])
def test_a_guard_and_bawaslu_may_not_add_equipment(
    client_for: Any, body: dict[str, Any], persona: str, request: pytest.FixtureRequest
) -> None:
    before = state()
    response = post(client_for(request.getfixturevalue(persona)), "/api/v1/safety/equipment", body)
    assert response.status_code == 403
    assert response.json()["code"] == "safety_not_allowed"
    assert state() == before


def test_a_guard_records_a_service_and_bawaslu_reads_but_may_not(
    client_for: Any,
    operator_okut: User,
    guard_okut: User,
    bawaslu_okut: User,
    body: dict[str, Any],
    today: dt.date,
) -> None:
    post(client_for(operator_okut), "/api/v1/safety/equipment", body)
    url = f"/api/v1/safety/equipment/{body['id']}/services"
    service = {
        "id": str(uuid.uuid4()),
        "performed_on": today.isoformat(),
        "work": "inspection",
        "notes": "Segel utuh, tekanan hijau.",
        "next_service_on": (today + dt.timedelta(days=180)).isoformat(),
    }
    before = state()
    refused = post(client_for(bawaslu_okut), url, service)
    assert refused.status_code == 403
    assert refused.json()["code"] == "safety_not_allowed"
    assert state() == before
    done = post(client_for(guard_okut), url, service)
    assert done.status_code == 201, done.content
    assert done.json()["recorded_by"] == "jaga.okut"
    assert post(client_for(guard_okut), url, service).status_code == 200
    conflict = post(client_for(guard_okut), url, {**service, "work": "refill"})
    assert (conflict.status_code, conflict.json()["code"]) == (409, "id_reused")
    future = post(
        client_for(guard_okut),
        url,
        {
            **service,
            "id": str(uuid.uuid4()),
            "performed_on": (today + dt.timedelta(days=2)).isoformat(),
        },
    )
    assert (future.status_code, future.json()["code"]) == (422, "service_in_future")
    assert ServiceRecord.objects.count() == 1
    history = client_for(bawaslu_okut).get(url)
    assert history.status_code == 200
    assert [s["id"] for s in history.json()] == [service["id"]]
    item = client_for(bawaslu_okut).get(f"/api/v1/safety/equipment/{body['id']}").json()
    assert item["next_service_on"] == service["next_service_on"]


def test_a_patch_changes_only_what_it_sends(
    client_for: Any, operator_okut: User, body: dict[str, Any], today: dt.date
) -> None:
    client = client_for(operator_okut)
    post(client, "/api/v1/safety/equipment", body)
    url = f"/api/v1/safety/equipment/{body['id']}"
    changed = patch(client, url, {"state": "out_of_service", "zone": None})
    assert changed.status_code == 200, changed.content
    data = changed.json()
    assert (data["state"], data["zone"], data["serial"]) == ("out_of_service", None, "APAR-API-1")
    before = state()
    bad = patch(client, url, {"next_service_on": "2000-01-01"})
    assert (bad.status_code, bad.json()["code"]) == (422, "equipment_service_before_installation")
    assert state() == before


def test_the_due_list_holds_overdue_and_soon_due_items_of_the_scope_only(
    client_for: Any,
    operator_okut: User,
    kpu_oku: User,
    apar: Any,
    today: dt.date,
) -> None:
    expired = apar(installed_on=today - dt.timedelta(days=2000), expiry_in=-2, service_in=40)
    soon = apar(expiry_in=400, service_in=12)
    apar(expiry_in=400, service_in=90)  # not due
    rows = client_for(operator_okut).get("/api/v1/safety/due").json()
    assert [(r["equipment"]["id"], r["overdue"], r["due_soon"]) for r in rows] == [
        (str(expired.pk), True, False),
        (str(soon.pk), False, True),
    ]
    wider = client_for(operator_okut).get("/api/v1/safety/due?within=100").json()
    assert len(wider) == 3
    assert client_for(kpu_oku).get("/api/v1/safety/due").json() == []
    listed = client_for(kpu_oku).get("/api/v1/safety/equipment").json()
    assert listed == {"count": 0, "items": []}
    missing = client_for(kpu_oku).get(f"/api/v1/safety/equipment/{expired.pk}")
    assert (missing.status_code, missing.json()["code"]) == (404, "equipment_not_found")


def test_the_list_filters_by_site_kind_and_state(
    client_for: Any, operator_okut: User, apar: Any, world: World
) -> None:
    one = apar()
    apar(state="out_of_service")
    client = client_for(operator_okut)
    site = world.warehouse_okut.pk
    got = client.get(f"/api/v1/safety/equipment?site={site}&state=in_service").json()
    assert [i["id"] for i in got["items"]] == [str(one.pk)]
    assert client.get("/api/v1/safety/equipment?kind=water_pump").json()["count"] == 0

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from siaga.accounts.models import User
from siaga.core.ids import uuid7
from siaga.sites.models import Site, Zone
from tests.conftest import World

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[list[Any], list[Any]]:
    return (
        list(Site.objects.order_by("id").values()),
        list(Zone.objects.order_by("id").values()),
    )


def site_payload(world: World, **overrides: Any) -> dict[str, Any]:
    payload = {
        "id": str(uuid7()),
        "code": "PPK-16.08.01",
        "name": "Gudang PPK Martapura",
        "kind": "ppk",
        "region": "16.08.01",
        "owner_unit": world.units["kpu:16.08"].pk,
        "address": "Kantor Camat Martapura",
        "latitude": "-4.320000",
        "longitude": "104.350000",
    }
    payload.update(overrides)
    return payload


def post(client: Client, url: str, payload: dict[str, Any]) -> Any:
    return client.post(url, payload, content_type="application/json")


def test_list_shows_only_sites_in_scope(world: World, client_for: Any, kpu_oku: User) -> None:
    response = client_for(kpu_oku).get("/api/v1/sites")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [s["code"] for s in body["items"]] == ["GUDANG-16.01"]


def test_list_filters_by_kind_and_region(world: World, client_for: Any, root: User) -> None:
    client = client_for(root)
    assert client.get("/api/v1/sites?region=16.08").json()["count"] == 1
    assert client.get("/api/v1/sites?region=16.01.14").json()["count"] == 1
    assert client.get("/api/v1/sites?kind=tps").json()["count"] == 0
    bad = client.get("/api/v1/sites?region=16.8")
    assert bad.status_code == 400
    assert bad.json()["code"] == "region_code_malformed"
    bad_kind = client.get("/api/v1/sites?kind=castle")
    assert bad_kind.status_code == 422
    assert bad_kind.json()["code"] == "validation_error"
    assert client.get("/api/v1/sites?limit=0").status_code == 422


def test_site_detail_has_zones(world: World, client_for: Any, guard_okut: User) -> None:
    response = client_for(guard_okut).get(f"/api/v1/sites/{world.warehouse_okut.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "GUDANG-16.08"
    assert body["region"] == "16.08.01.1008"
    assert [(z["name"], z["restricted"]) for z in body["zones"]] == [
        ("Gerbang utama", False),
        ("Gudang A", True),
    ]


def test_site_of_another_kabupaten_is_404(world: World, client_for: Any, kpu_oku: User) -> None:
    response = client_for(kpu_oku).get(f"/api/v1/sites/{world.warehouse_okut.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "site_not_found"


def test_admin_creates_a_site_and_a_retry_is_the_same_site(
    world: World, client_for: Any, admin_okut: User
) -> None:
    client = client_for(admin_okut)
    payload = site_payload(world)
    first = post(client, "/api/v1/sites", payload)
    assert first.status_code == 201
    assert first.json()["id"] == payload["id"]
    again = post(client, "/api/v1/sites", payload)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Site.objects.filter(code="PPK-16.08.01").count() == 1
    site = Site.objects.get(pk=payload["id"])
    assert (site.kind, site.region_id, str(site.latitude)) == ("ppk", "16.08.01", "-4.320000")


def test_reusing_an_id_for_different_data_is_409(
    world: World, client_for: Any, admin_okut: User
) -> None:
    client = client_for(admin_okut)
    payload = site_payload(world)
    assert post(client, "/api/v1/sites", payload).status_code == 201
    before = snapshot()
    response = post(client, "/api/v1/sites", {**payload, "name": "Another name"})
    assert response.status_code == 409
    assert response.json()["code"] == "id_reused"
    assert response.json()["detail"]["fields"] == ["name"]
    assert snapshot() == before


def test_duplicate_code_is_409(world: World, client_for: Any, admin_okut: User) -> None:
    before = snapshot()
    response = post(
        client_for(admin_okut), "/api/v1/sites", site_payload(world, code="GUDANG-16.08")
    )
    assert response.status_code == 409
    assert response.json()["code"] == "site_code_taken"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"latitude": "40.0", "longitude": "104.35"}, 422, "coordinates_outside_indonesia"),
        ({"latitude": "-4.3", "longitude": None}, 422, "coordinates_incomplete"),
        ({"region": "99.99"}, 422, "region_unknown"),
        ({"region": "16.8"}, 422, "validation_error"),
        ({"kind": "castle"}, 422, "validation_error"),
        ({"voters": 250}, 422, "voters_only_for_tps"),
        ({"kind": "tps", "voters": 5000, "code": "TPS-X"}, 422, "voters_out_of_range"),
        ({"owner_unit": 999999}, 422, "unit_unknown"),
        ({"name": ""}, 422, "validation_error"),
        ({"name": "   "}, 422, "site_name_required"),
        ({"id": "not-a-uuid"}, 422, "validation_error"),
        ({"latitude": "abc"}, 422, "validation_error"),
    ],
)
def test_bad_site_input_is_refused_without_change(
    world: World,
    client_for: Any,
    admin_okut: User,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = snapshot()
    response = post(client_for(admin_okut), "/api/v1/sites", site_payload(world, **overrides))
    assert response.status_code == status
    assert response.json()["code"] == code
    assert snapshot() == before


@pytest.mark.parametrize(
    "persona", ["guard_okut", "operator_okut", "bawaslu_okut", "kapolres_okut"]
)
def test_roles_without_master_data_rights_cannot_create_sites(
    world: World, client_for: Any, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    before = snapshot()
    response = post(client_for(user), "/api/v1/sites", site_payload(world))
    assert response.status_code == 403
    assert response.json()["code"] == "region_out_of_scope"
    assert snapshot() == before


def test_admin_of_another_kabupaten_cannot_create_here(
    world: World, client_for: Any, admin_oku: User
) -> None:
    before = snapshot()
    response = post(client_for(admin_oku), "/api/v1/sites", site_payload(world))
    assert response.status_code == 403
    assert snapshot() == before


def test_anonymous_cannot_create(world: World, client: Client) -> None:
    before = snapshot()
    response = post(client, "/api/v1/sites", site_payload(world))
    assert response.status_code == 401
    assert response.json()["code"] == "auth_required"
    assert snapshot() == before


def test_zone_create_is_idempotent_and_scoped(
    world: World, client_for: Any, admin_okut: User, admin_oku: User
) -> None:
    url = f"/api/v1/sites/{world.warehouse_okut.pk}/zones"
    zone_id = str(uuid7())
    payload = {"id": zone_id, "name": "Gudang B", "kind": "storage", "restricted": True}
    before = snapshot()
    denied = post(client_for(admin_oku), url, payload)
    assert denied.status_code == 404
    assert snapshot() == before
    created = post(client_for(admin_okut), url, payload)
    assert created.status_code == 201
    assert post(client_for(admin_okut), url, payload).status_code == 200
    assert Zone.objects.filter(site=world.warehouse_okut, name="Gudang B").count() == 1
    clash = post(client_for(admin_okut), url, {**payload, "id": str(uuid7())})
    assert clash.status_code == 409
    assert clash.json()["code"] == "zone_name_taken"


def test_guard_cannot_add_zones(world: World, client_for: Any, guard_okut: User) -> None:
    before = snapshot()
    response = post(
        client_for(guard_okut),
        f"/api/v1/sites/{world.warehouse_okut.pk}/zones",
        {"name": "Gudang C", "kind": "storage"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert snapshot() == before


def test_unknown_site_is_404(world: World, client_for: Any, root: User) -> None:
    response = client_for(root).get(f"/api/v1/sites/{uuid.uuid4()}")
    assert response.status_code == 404
    assert client_for(root).get("/api/v1/sites/not-a-uuid").status_code in (404, 422)


def test_oversized_body_is_413(world: World, client_for: Any, admin_okut: User) -> None:
    before = snapshot()
    big = site_payload(world, address="x" * (6 * 1024 * 1024))
    response = post(client_for(admin_okut), "/api/v1/sites", big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert snapshot() == before


def test_unknown_api_route_is_json_404(client: Client) -> None:
    response = client.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"

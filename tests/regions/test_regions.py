from __future__ import annotations

import time

import pytest
from django.db.models import Count
from django.test import Client

from siaga.regions.codes import in_subtree, is_region_code, parent_code
from siaga.regions.models import Region
from siaga.regions.services import load_regions

pytestmark = pytest.mark.django_db


def test_full_kemendagri_hierarchy_is_loaded() -> None:
    per_level = dict(Region.objects.values_list("level").annotate(n=Count("code")))
    assert per_level == {1: 38, 2: 514, 3: 7285, 4: 83762}
    assert Region.objects.filter(level__gt=1, parent__isnull=True).count() == 0
    assert Region.objects.filter(level=1, parent__isnull=False).count() == 0


def test_oku_timur_has_its_twenty_kecamatan() -> None:
    okut = Region.objects.get(code="16.08")
    assert okut.name == "Kabupaten Ogan Komering Ulu Timur"
    assert okut.kind == "kabupaten"
    assert okut.parent_id == "16"
    kecamatan = list(okut.children.order_by("code").values_list("code", "name"))
    assert len(kecamatan) == 20
    assert kecamatan[0] == ("16.08.01", "Martapura")
    assert Region.objects.get(code="16.08.01.1008").name == "Pasar Martapura"
    assert Region.objects.get(code="16.08.01.1008").kind == "kelurahan"


def test_loading_twice_changes_nothing() -> None:
    before = Region.objects.count()
    started = time.monotonic()
    report = load_regions()
    assert (report.created, report.updated, report.retired) == (0, 0, 0)
    assert report.total == before == 91599
    assert time.monotonic() - started < 60


def test_a_changed_region_is_repaired_and_a_vanished_one_retired() -> None:
    Region.objects.filter(code="16.08.01").update(name="Martapura Lama")
    Region.objects.create(
        code="16.08.99", name="Pemekaran", level=3, kind="kecamatan", parent_id="16.08"
    )
    report = load_regions()
    assert (report.created, report.updated, report.retired) == (0, 1, 1)
    assert Region.objects.get(code="16.08.01").name == "Martapura"
    assert Region.objects.get(code="16.08.99").active is False


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("16", True),
        ("16.08", True),
        ("16.08.01", True),
        ("16.08.01.2001", True),
        ("1608", False),
        ("16.8", False),
        ("16.08.1", False),
        ("16.08.01.201", False),
        ("", False),
        ("16.08.", False),
        ("ab.cd", False),
        ("16.08.01.2001.1", False),
        ("١٦", False),
    ],
)
def test_region_code_shape(code: str, valid: bool) -> None:
    assert is_region_code(code) is valid


def test_subtree_and_parent() -> None:
    assert in_subtree("16.08.01", "16.08")
    assert in_subtree("16.08", "16.08")
    assert not in_subtree("16.081", "16.08")
    assert not in_subtree("16.01.14", "16.08")
    assert parent_code("16.08.01.1008") == "16.08.01"
    assert parent_code("16") is None


def test_api_region_with_children(client: Client) -> None:
    response = client.get("/api/v1/regions/16.08")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Kabupaten Ogan Komering Ulu Timur"
    assert body["ancestors"] == [
        {"code": "16", "name": "Sumatera Selatan", "level": 1, "kind": "provinsi"}
    ]
    assert len(body["children"]) == 20
    assert body["children"][0] == {
        "code": "16.08.01",
        "name": "Martapura",
        "level": 3,
        "kind": "kecamatan",
    }


def test_api_lists_provinces(client: Client) -> None:
    response = client.get("/api/v1/regions")
    assert response.status_code == 200
    assert len(response.json()) == 38


@pytest.mark.parametrize("code", ["16.8", "1608", "abc", "16.08.01.2001.7", "16..08"])
def test_api_malformed_region_code_is_400(client: Client, code: str) -> None:
    response = client.get(f"/api/v1/regions/{code}")
    assert response.status_code == 400
    assert response.json()["code"] == "region_code_malformed"
    assert response.json()["detail"] == {"code": code}


def test_api_unknown_region_is_404(client: Client) -> None:
    response = client.get("/api/v1/regions/99.99")
    assert response.status_code == 404
    assert response.json()["code"] == "region_not_found"


def test_api_error_message_speaks_indonesian_first_and_english_on_request(
    client: Client,
) -> None:
    indonesian = client.get("/api/v1/regions/99.99").json()["message"]
    english = client.get("/api/v1/regions/99.99", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert english == "No region has this code."
    assert indonesian == "Tidak ada wilayah dengan kode ini."

"""The incidents API: multipart reports with photos, the lifecycle, scoping, and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from siaga.accounts.models import User
from siaga.incidents.models import Incident, IncidentEvent, IncidentPhoto
from siaga.ledger.models import Entry
from tests.conftest import World
from tests.incidents.conftest import Posts, jpeg

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents"


def form(world: World, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "category": "banjir",
        "severity": "2",
        "site": str(world.warehouse_okut.pk),
        "description": "Atap bocor, air menetes di Gudang A",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_report_with_a_photo_then_the_same_report_again(
    client_for: Any, world: World, guard_okut: User, posts: Posts
) -> None:
    client = client_for(guard_okut)
    data = form(world, photo=SimpleUploadedFile("bocor.jpg", jpeg(), "image/jpeg"))
    response = client.post(URL, data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == data["id"]
    assert (body["category"], body["severity"], body["state"]) == ("banjir", 2, "reported")
    assert body["reference"] == f"INS-{data['id'][-6:].upper()}"
    assert len(body["photos"]) == 1
    assert [e["kind"] for e in body["timeline"]] == ["reported", "photo", "escalated"]
    photo = client.get(body["photos"][0]["url"])
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/jpeg"
    assert photo.content[:3] == b"\xff\xd8\xff"
    # The phone never heard back and sends it again, photo and all.
    data["photo"] = SimpleUploadedFile("bocor.jpg", jpeg(), "image/jpeg")
    again = client.post(URL, data)
    assert again.status_code == 200
    assert Incident.objects.count() == 1 and IncidentPhoto.objects.count() == 1


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"category": "gempa"}, 422, "incident_category_unknown"),
        ({"severity": "7"}, 422, "incident_severity_unknown"),
        ({"severity": "tinggi"}, 422, "validation_error"),
        ({"id": "not-a-uuid"}, 422, "validation_error"),
        ({"region": "16.8"}, 422, "validation_error"),
        (
            {"latitude": "12.000000", "longitude": "104.000000"},
            422,
            "coordinates_outside_indonesia",
        ),
    ],
)
def test_bad_reports_answer_with_a_code_and_write_nothing(
    client_for: Any, world: World, guard_okut: User, extra: dict[str, Any], status: int, code: str
) -> None:
    entries = Entry.objects.count()
    response = client_for(guard_okut).post(URL, form(world, **extra))
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert Incident.objects.count() == 0 and Entry.objects.count() == entries


def test_a_photo_that_is_not_an_image_or_too_large_is_refused_and_the_report_kept(
    client_for: Any, world: World, guard_okut: User, settings: Any
) -> None:
    client = client_for(guard_okut)
    fake = SimpleUploadedFile("bocor.jpg", b"<html>not a photo</html>", "image/jpeg")
    not_an_image = form(world, photo=fake)
    response = client.post(URL, not_an_image)
    assert response.status_code == 201
    assert response.json()["photo_refused"]["code"] == "photo_invalid"
    assert response.json()["photo_refused"]["message"]
    assert response.json()["photos"] == []
    assert Incident.objects.filter(pk=not_an_image["id"]).exists()
    settings.INCIDENT_PHOTO_MAX_BYTES = 4096
    big = SimpleUploadedFile("besar.jpg", jpeg(1200, 900) + b"\0" * 5000, "image/jpeg")
    too_large = form(world, photo=big)
    response = client.post(URL, too_large)
    assert response.status_code == 201
    assert response.json()["photo_refused"]["code"] == "photo_too_large"
    assert Incident.objects.filter(pk=too_large["id"]).exists()
    assert Incident.objects.count() == 2 and IncidentPhoto.objects.count() == 0
    # A report with a good photo says nothing was refused.
    good = client.post(URL, form(world, photo=SimpleUploadedFile("ok.jpg", jpeg(), "image/jpeg")))
    assert (good.status_code, good.json()["photo_refused"]) == (201, None)


def test_english_when_asked(client_for: Any, world: World, guard_okut: User) -> None:
    response = client_for(guard_okut).post(
        URL, form(world, category="gempa"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.json()["message"] == "Unknown incident category."
    indonesian = client_for(guard_okut).post(URL, form(world, category="gempa"))
    assert indonesian.json()["message"] != "Unknown incident category."


def test_lifecycle_over_the_api(
    client_for: Any, world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident_id = client_for(guard_okut).post(URL, form(world)).json()["id"]
    commissioner = client_for(commissioner_okut)
    steps = [
        ("acknowledge", None, "acknowledged"),
        ("respond", None, "responding"),
        ("resolve", {"resolution": "Palet dipindah, 2 karton rusak."}, "resolved"),
        ("close", None, "closed"),
        ("reopen", {"reason": "Bocor lagi."}, "acknowledged"),
    ]
    for action, payload, state in steps:
        response = commissioner.post(
            f"{URL}/{incident_id}/{action}", payload or {}, content_type="application/json"
        )
        assert response.status_code == 200, (action, response.content)
        assert response.json()["state"] == state
    comment = commissioner.post(
        f"{URL}/{incident_id}/comments", {"text": "Tim datang."}, content_type="application/json"
    )
    assert comment.status_code == 201
    assign = commissioner.post(
        f"{URL}/{incident_id}/assign", {"user": guard_okut.pk}, content_type="application/json"
    )
    assert assign.json()["assignee"] == guard_okut.username
    wrong = commissioner.post(f"{URL}/{incident_id}/close", {}, content_type="application/json")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "incident_state_invalid")


def test_acknowledging_outside_ones_scope_changes_nothing(
    client_for: Any,
    world: World,
    guard_okut: User,
    kpu_oku: User,
    bawaslu_okut: User,
    posts: Posts,
) -> None:
    incident_id = client_for(guard_okut).post(URL, form(world)).json()["id"]
    events = IncidentEvent.objects.count()
    entries = Entry.objects.count()
    other = client_for(kpu_oku).post(f"{URL}/{incident_id}/acknowledge")
    assert (other.status_code, other.json()["code"]) == (404, "incident_not_found")
    bawaslu = client_for(bawaslu_okut).post(f"{URL}/{incident_id}/acknowledge")
    assert (bawaslu.status_code, bawaslu.json()["code"]) == (403, "incident_out_of_scope")
    assert Incident.objects.get(pk=incident_id).state == "reported"
    assert (IncidentEvent.objects.count(), Entry.objects.count()) == (events, entries)
    anonymous = client_for(None).post(f"{URL}/{incident_id}/acknowledge")
    assert anonymous.status_code == 401


def test_lists_photos_and_stats_are_scoped(
    client_for: Any, world: World, guard_okut: User, kpu_oku: User, posts: Posts
) -> None:
    client = client_for(guard_okut)
    created = client.post(
        URL, form(world, photo=SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg"))
    ).json()
    client.post(URL, form(world, category="kebakaran", severity="1"))
    mine = client.get(URL, {"state": "open"}).json()
    assert mine["count"] == 2
    other = client_for(kpu_oku)
    assert other.get(URL).json() == {"count": 0, "items": []}
    assert other.get(f"{URL}/{created['id']}").status_code == 404
    assert other.get(created["photos"][0]["url"]).status_code == 404
    stats = client.get(f"{URL}/stats").json()
    assert (stats["total"], stats["open"]) == (2, 2)
    assert {row["category"]: row["total"] for row in stats["by_category"]} == {
        "banjir": 1,
        "kebakaran": 1,
    }
    assert other.get(f"{URL}/stats").json()["total"] == 0


def test_my_open_acknowledgements(
    client_for: Any, world: World, guard_okut: User, posts: Posts
) -> None:
    incident_id = client_for(guard_okut).post(URL, form(world)).json()["id"]
    kapolres = client_for(posts.kapolres)
    assert [i["id"] for i in kapolres.get(f"{URL}/acknowledgements").json()] == [incident_id]
    kapolres.post(f"{URL}/{incident_id}/acknowledge")
    assert kapolres.get(f"{URL}/acknowledgements").json() == []

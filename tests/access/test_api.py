"""The gate API: each route with good input, the bad input issue #5 names (and more), the
authorization matrix of every state-changing route, and constant query counts."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from siaga.access import services
from siaga.access.choices import VisitState
from siaga.access.models import GateEvent, Presence, SiteRules, StandingPass, Visit, Visitor
from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.ledger.models import Entry
from tests.access.conftest import (
    NIK_DRIVER,
    NIK_JOURNALIST,
    NIK_OPERATOR,
    NIK_SUSPECT,
    NIK_WORKER,
    Gate,
    open_all_day,
    png,
)

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def visit_body(gate: Gate, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "visitor": {
            "nik": NIK_DRIVER,
            "name": "Andi Sopir",
            "organisation": "PT Percetakan",
            "phone": "0812-3456-7890",
        },
        "site": str(gate.site.pk),
        "zones": [str(gate.gate_zone.pk)],
        "purpose": "delivery",
        "purpose_text": "Antar surat suara DPR",
        "planned_end": (now + dt.timedelta(hours=2)).isoformat(),
        "vehicle_plate": "BG 8123 KA",
    }
    body.update(extra)
    return body


@pytest.fixture
def open_gate(gate: Gate) -> Gate:
    """The gate at the real clock: passes valid now, no after-hours window."""
    open_all_day(gate.site)
    gate.site.refresh_from_db()
    StandingPass.objects.filter(site=gate.site).update(
        valid_from=timezone.now() - dt.timedelta(days=1)
    )
    gate.operator_pass.refresh_from_db()
    gate.guard_pass.refresh_from_db()
    return gate


def _counts() -> tuple[int, int, int, int, int]:
    return (
        Visit.objects.count(),
        Visitor.objects.count(),
        GateEvent.objects.count(),
        Presence.objects.count(),
        Entry.objects.count(),
    )


# ---------------------------------------------------------------------------------------------
# The guard's flow


def test_walk_in_approve_check_in_inside_and_out_over_the_api(
    client_for: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    guard = client_for(guard_okut)
    body = visit_body(open_gate, walk_in=True, host=operator_okut.pk)
    registered = post(guard, "/api/v1/visits", body)
    assert registered.status_code == 201, registered.content
    visit = registered.json()
    assert visit["state"] == "requested"
    assert visit["visitor"]["nik"] == "1608********0001"
    assert visit["visitor"]["phone"] == "+6281234567890"
    assert visit["vehicle_plate"] == "BG 8123 KA"
    again = post(guard, "/api/v1/visits", body)
    assert again.status_code == 200
    assert again.json()["id"] == visit["id"]
    assert Visit.objects.count() == 1

    approved = post(client_for(operator_okut), f"/api/v1/visits/{visit['id']}/approve", {})
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "approved"
    assert approved.json()["decided_by"] == operator_okut.username

    check_in = {
        "id": str(uuid.uuid4()),
        "visit": visit["id"],
        "zone": str(open_gate.gate_zone.pk),
        "items": [{"kind": "bag", "count": 1}, {"kind": "phone", "count": 2, "label": "HP"}],
        "vehicle_plate": "bg8123ka",
    }
    first = post(guard, "/api/v1/gate/check-in", check_in)
    assert first.status_code == 201, first.content
    event = first.json()
    assert event["kind"] == "check_in"
    assert event["zone"]["name"] == "Gerbang utama"
    assert event["vehicle_plate"] == "BG 8123 KA"
    assert event["items"] == [
        {"kind": "bag", "count": 1, "label": ""},
        {"kind": "phone", "count": 2, "label": "HP"},
    ]
    assert event["guard"] == guard_okut.username
    entry = Entry.objects.get(seq=event["ledger_seq"])
    assert entry.kind == "access.gate.check_in"
    assert entry.subject_id == check_in["id"]

    inside = guard.get(f"/api/v1/sites/{open_gate.site.pk}/inside")
    assert inside.status_code == 200
    board = inside.json()
    assert board["count"] == 1
    gate_group = next(
        z for z in board["zones"] if z["zone"] and z["zone"]["name"] == "Gerbang utama"
    )
    assert [p["visitor"]["name"] for p in gate_group["people"]] == ["Andi Sopir"]
    assert gate_group["people"][0]["overstaying"] is False

    out = post(guard, "/api/v1/gate/check-out", {"id": str(uuid.uuid4()), "visit": visit["id"]})
    assert out.status_code == 201, out.content
    assert out.json()["from_zone"]["name"] == "Gerbang utama"
    assert guard.get(f"/api/v1/sites/{open_gate.site.pk}/inside").json()["count"] == 0
    assert Visit.objects.get(pk=visit["id"]).state == VisitState.CHECKED_OUT


def test_duplicate_check_in_answers_the_same_and_writes_one_entry(
    client_for: Any, open_gate: Gate, guard_okut: User
) -> None:
    guard = client_for(guard_okut)
    body = {"id": str(uuid.uuid4()), "badge": open_gate.operator_pass.qr_payload}
    first = post(guard, "/api/v1/gate/check-in", body)
    second = post(guard, "/api/v1/gate/check-in", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert GateEvent.objects.filter(pk=body["id"]).count() == 1
    assert Entry.objects.filter(kind="access.gate.check_in", subject_id=body["id"]).count() == 1
    # The same id for another person is not a resend.
    reused = post(
        guard, "/api/v1/gate/check-in", {**body, "badge": open_gate.guard_pass.qr_payload}
    )
    assert (reused.status_code, reused.json()["code"]) == (409, "id_reused")
    assert not Presence.objects.filter(visitor=open_gate.guard_pass.visitor).exists()


def test_lookup_by_nik(
    client_for: Any, open_gate: Gate, guard_okut: User, bawaslu_okut: User
) -> None:
    guard = client_for(guard_okut)
    found = post(guard, "/api/v1/visitors/lookup", {"nik": "1608014404880004"})
    assert found.status_code == 200
    assert found.json()["name"] == "Rina Operator"
    assert found.json()["officer"] == "kpu"
    unknown = post(guard, "/api/v1/visitors/lookup", {"nik": NIK_JOURNALIST})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "visitor_not_known_here")
    bad = post(guard, "/api/v1/visitors/lookup", {"nik": "12345"})
    assert (bad.status_code, bad.json()["code"]) == (422, "nik_length")
    # Bawaslu oversees; it does not work the gate.
    refused = post(client_for(bawaslu_okut), "/api/v1/visitors/lookup", {"nik": NIK_OPERATOR})
    assert (refused.status_code, refused.json()["code"]) == (403, "gate_not_allowed")


# ---------------------------------------------------------------------------------------------
# Bad input: each writes nothing


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("160801120585000", "nik_length"),
        ("16080112058500O1", "nik_not_digits"),
        ("9908011205850001", "nik_province_unknown"),
        ("1608013205850001", "nik_birthdate_invalid"),
        ("1608011205850000", "nik_serial_zero"),
    ],
)
def test_invalid_nik_is_refused_with_its_code(
    client_for: Any, open_gate: Gate, operator_okut: User, nik: str, code: str
) -> None:
    before = _counts()
    body = visit_body(open_gate)
    body["visitor"]["nik"] = nik
    response = post(client_for(operator_okut), "/api/v1/visits", body)
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert response.json()["detail"] == {"field": "nik"}
    assert _counts() == before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"visitor": {"nik": NIK_DRIVER, "name": "A", "phone": "12345"}}, "phone_invalid"),
        ({"visitor": {"nik": NIK_DRIVER, "name": "A", "phone": "+6591234567"}}, "phone_invalid"),
        ({"visitor": {"nik": NIK_JOURNALIST}}, "visitor_name_required"),
        ({"vehicle_plate": "12-ABC-??"}, "plate_invalid"),
        ({"purpose": "party"}, "purpose_unknown"),
        ({"zones": [str(uuid.uuid4())]}, "zone_unknown"),
        ({"host": 999999}, "host_invalid"),
        ({"planned_end": "2020-01-01T10:00:00+07:00"}, "visit_window_invalid"),
        ({"planned_end": "not a date"}, "validation_error"),
        ({"site": "not-a-uuid"}, "validation_error"),
    ],
)
def test_bad_visit_input_is_refused_and_writes_nothing(
    client_for: Any, open_gate: Gate, operator_okut: User, change: dict[str, Any], code: str
) -> None:
    before = _counts()
    response = post(client_for(operator_okut), "/api/v1/visits", visit_body(open_gate, **change))
    assert (response.status_code, response.json()["code"]) == (422, code), response.content
    assert response.json()["message"]
    assert _counts() == before


def test_a_guard_cannot_be_a_host(client_for: Any, open_gate: Gate, guard_okut: User) -> None:
    before = _counts()
    response = post(
        client_for(guard_okut), "/api/v1/visits", visit_body(open_gate, host=guard_okut.pk)
    )
    assert (response.status_code, response.json()["code"]) == (422, "host_invalid")
    assert _counts() == before


def test_check_out_of_someone_not_inside(
    client_for: Any, open_gate: Gate, guard_okut: User
) -> None:
    before = _counts()
    response = post(
        client_for(guard_okut),
        "/api/v1/gate/check-out",
        {"id": str(uuid.uuid4()), "badge": open_gate.operator_pass.qr_payload},
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_inside")
    assert _counts() == before


@pytest.mark.parametrize("state", ["requested", "denied", "expired"])
def test_check_in_on_a_visit_not_approved(
    client_for: Any,
    open_gate: Gate,
    guard_okut: User,
    operator_okut: User,
    state: str,
) -> None:
    now = timezone.now()
    visit = services.register_visit(
        actor=guard_okut,
        person=services.PersonData(nik=NIK_DRIVER, name="Andi"),
        site_id=open_gate.site.pk,
        zone_ids=[],
        purpose="delivery",
        host_id=operator_okut.pk,
        walk_in=True,
        planned_start=now - dt.timedelta(hours=3),
        planned_end=now + dt.timedelta(hours=1),
        now=now - dt.timedelta(hours=3),
    ).obj
    if state == "denied":
        services.deny_visit(actor=operator_okut, visit_id=visit.pk, reason="Tanpa surat")
    if state == "expired":
        services.approve_visit(actor=operator_okut, visit_id=visit.pk, now=now)
        services.expire_visits(now + dt.timedelta(hours=2))
    before = _counts()
    response = post(
        client_for(guard_okut),
        "/api/v1/gate/check-in",
        {"id": str(uuid.uuid4()), "visit": str(visit.pk)},
    )
    assert (response.status_code, response.json()["code"]) == (409, "visit_not_approved")
    assert response.json()["detail"]["state"] == state
    assert _counts() == before


def test_alone_into_storage(client_for: Any, open_gate: Gate, guard_okut: User) -> None:
    before = _counts()
    response = post(
        client_for(guard_okut),
        "/api/v1/gate/check-in",
        {
            "id": str(uuid.uuid4()),
            "badge": open_gate.operator_pass.qr_payload,
            "zone": str(open_gate.hall.pk),
        },
    )
    assert (response.status_code, response.json()["code"]) == (409, "two_person_rule")
    assert _counts() == before


def test_after_hours_without_approval(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User, commissioner_okut: User
) -> None:
    # The after-hours window is set around the present moment, whatever the hour of the run.
    local = timezone.localtime().astimezone(dt.timezone(dt.timedelta(hours=7)))
    SiteRules.objects.update_or_create(
        site=gate.site,
        defaults={
            "after_hours_start": (local - dt.timedelta(hours=1))
            .time()
            .replace(second=0, microsecond=0),
            "after_hours_end": (local + dt.timedelta(hours=1))
            .time()
            .replace(second=0, microsecond=0),
        },
    )
    guard = client_for(guard_okut)
    visit = post(
        guard, "/api/v1/visits", visit_body(gate, walk_in=True, host=operator_okut.pk)
    ).json()
    assert (
        post(client_for(operator_okut), f"/api/v1/visits/{visit['id']}/approve", {}).status_code
        == 200
    )
    before = _counts()
    body = {"id": str(uuid.uuid4()), "visit": visit["id"]}
    refused = post(guard, "/api/v1/gate/check-in", body)
    assert (refused.status_code, refused.json()["code"]) == (409, "after_hours")
    assert _counts() == before
    approved = post(client_for(commissioner_okut), f"/api/v1/visits/{visit['id']}/approve", {})
    assert approved.json()["after_hours_approved_by"] == commissioner_okut.username
    assert post(guard, "/api/v1/gate/check-in", body).status_code == 201


def test_watchlisted_is_refused_and_alarmed(
    client_for: Any, open_gate: Gate, guard_okut: User, operator_okut: User, kapolres_okut: User
) -> None:
    listed = post(
        client_for(kapolres_okut),
        "/api/v1/visitors/watchlist",
        {"nik": NIK_SUSPECT, "name": "Budi", "reason": "DPO pencurian logistik"},
    )
    assert listed.status_code == 200 and listed.json()["watchlisted"] is True
    before = _counts()
    body = visit_body(open_gate, walk_in=True, host=operator_okut.pk)
    body["visitor"] = {"nik": NIK_SUSPECT, "name": "Budi"}
    response = post(client_for(guard_okut), "/api/v1/visits", body)
    assert (response.status_code, response.json()["code"]) == (403, "watchlisted")
    alarm = Alarm.objects.get(source="access", kind="watchlist", active=True)
    assert str(alarm.pk) == response.json()["detail"]["alarm"]
    assert alarm.incident is not None
    visits, visitors, events, presences, _entries = _counts()
    assert (visits, visitors, events, presences) == before[:4]


def test_a_guard_may_not_watchlist(client_for: Any, open_gate: Gate, guard_okut: User) -> None:
    response = post(
        client_for(guard_okut),
        "/api/v1/visitors/watchlist",
        {"nik": NIK_SUSPECT, "name": "Budi", "reason": "DPO"},
    )
    assert (response.status_code, response.json()["code"]) == (403, "watchlist_not_allowed")
    assert not Visitor.objects.by_nik(NIK_SUSPECT).exists()


def test_photo_not_an_image_or_too_large(
    client_for: Any, open_gate: Gate, guard_okut: User, settings: Any
) -> None:
    guard = client_for(guard_okut)
    visitor = open_gate.operator_pass.visitor
    url = f"/api/v1/visitors/{visitor.pk}/photo"
    text = guard.post(url, {"photo": SimpleUploadedFile("ktp.jpg", b"not an image", "image/jpeg")})
    assert (text.status_code, text.json()["code"]) == (422, "photo_invalid")
    settings.VISITOR_PHOTO_MAX_BYTES = 2048
    big = guard.post(
        url, {"photo": SimpleUploadedFile("big.png", png(600, 600) + b"\0" * 4096, "image/png")}
    )
    assert (big.status_code, big.json()["code"]) == (413, "photo_too_large")
    visitor.refresh_from_db()
    assert visitor.photo is None and visitor.photo_sha256 == ""
    settings.VISITOR_PHOTO_MAX_BYTES = 5 * 1024 * 1024
    ok = guard.post(url, {"photo": SimpleUploadedFile("face.png", png(), "image/png")})
    assert ok.status_code == 200 and ok.json()["has_photo"] is True
    served = guard.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"


def test_guard_of_another_site_is_refused(
    client_for: Any, open_gate: Gate, operator_okut: User, kpu_oku: User
) -> None:
    visit = post(client_for(operator_okut), "/api/v1/visits", visit_body(open_gate)).json()
    before = _counts()
    response = post(
        client_for(kpu_oku),
        "/api/v1/gate/check-in",
        {"id": str(uuid.uuid4()), "visit": visit["id"]},
    )
    assert (response.status_code, response.json()["code"]) == (403, "gate_out_of_scope")
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"visit": None, "badge": None}, 422, "credential_required"),
        ({"badge": "SIAGA-PASS:nope"}, 404, "badge_unknown"),
        ({"visit": str(uuid.uuid4())}, 404, "visit_not_found"),
        ({"badge": "PASS", "items": [{"kind": "gun"}]}, 422, "item_kind_unknown"),
        ({"badge": "PASS", "items": [{"kind": "bag", "count": 0}]}, 422, "validation_error"),
        ({"badge": "PASS", "zone": str(uuid.uuid4())}, 422, "zone_unknown"),
        (
            {"badge": "PASS", "companions": [str(uuid.uuid4())], "zone": "HALL"},
            409,
            "companion_not_inside",
        ),
        ({"badge": "PASS", "vehicle_plate": "??"}, 422, "plate_invalid"),
    ],
)
def test_bad_check_in_input(
    client_for: Any, open_gate: Gate, guard_okut: User, body: dict[str, Any], status: int, code: str
) -> None:
    if body.get("badge") == "PASS":
        body = {**body, "badge": open_gate.operator_pass.qr_payload}
    if body.get("zone") == "HALL":
        body = {**body, "zone": str(open_gate.hall.pk)}
    if body:
        body = {"id": str(uuid.uuid4()), **body}
    before = _counts()
    response = post(client_for(guard_okut), "/api/v1/gate/check-in", body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert _counts() == before


def test_malformed_json_is_a_clear_error(
    client_for: Any, open_gate: Gate, guard_okut: User
) -> None:
    response = client_for(guard_okut).post(
        "/api/v1/gate/check-in", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("bad_request", "validation_error")


def test_revoked_pass_does_not_open_the_gate(
    client_for: Any, open_gate: Gate, guard_okut: User, commissioner_okut: User
) -> None:
    revoked = post(
        client_for(commissioner_okut), f"/api/v1/passes/{open_gate.guard_pass.pk}/revoke", {}
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    before = _counts()
    response = post(
        client_for(guard_okut),
        "/api/v1/gate/check-in",
        {"id": str(uuid.uuid4()), "badge": open_gate.guard_pass.qr_payload},
    )
    assert (response.status_code, response.json()["code"]) == (409, "pass_not_valid")
    assert response.json()["detail"]["reason"] == "revoked"
    assert _counts() == before


# ---------------------------------------------------------------------------------------------
# Who may do what (anonymous and other regions are walked in tests/test_authorization_walk.py)


def test_approve_and_deny_matrix(
    client_for: Any,
    open_gate: Gate,
    guard_okut: User,
    operator_okut: User,
    bawaslu_okut: User,
    kpu_oku: User,
) -> None:
    visit = post(
        client_for(guard_okut),
        "/api/v1/visits",
        visit_body(open_gate, walk_in=True, host=operator_okut.pk),
    ).json()
    url = f"/api/v1/visits/{visit['id']}"
    for user, status, code in [
        (None, 401, "auth_required"),
        (guard_okut, 403, "approval_not_allowed"),
        (bawaslu_okut, 403, "approval_not_allowed"),
        (kpu_oku, 404, "visit_not_found"),
    ]:
        for action in ("approve", "deny"):
            response = post(client_for(user), f"{url}/{action}", {"reason": "x"})
            assert (response.status_code, response.json()["code"]) == (status, code), (user, action)
    assert Visit.objects.get(pk=visit["id"]).state == VisitState.REQUESTED
    denied = post(client_for(operator_okut), f"{url}/deny", {"reason": "Tidak ada surat tugas"})
    assert denied.status_code == 200 and denied.json()["state"] == "denied"
    late = post(client_for(operator_okut), f"{url}/approve", {})
    assert (late.status_code, late.json()["code"]) == (409, "visit_not_pending")


def test_passes_and_rules_matrix(
    client_for: Any,
    open_gate: Gate,
    guard_okut: User,
    operator_okut: User,
    commissioner_okut: User,
    kapolres_okut: User,
) -> None:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "holder": {"nik": NIK_WORKER, "name": "Udin Pekerja"},
        "site": str(open_gate.site.pk),
        "zones": [str(open_gate.hall.pk)],
        "kind": "worker",
        "weekdays": "123456",
        "start_time": "07:00",
        "end_time": "16:30",
        "valid_until": (timezone.now() + dt.timedelta(days=1)).isoformat(),
    }
    for user in (guard_okut, operator_okut):
        refused = post(client_for(user), "/api/v1/passes", body)
        assert (refused.status_code, refused.json()["code"]) == (403, "pass_not_allowed")
    assert not StandingPass.objects.filter(pk=body["id"]).exists()
    issued = post(client_for(kapolres_okut), "/api/v1/passes", body)
    assert issued.status_code == 201, issued.content
    assert issued.json()["badge"].startswith("SIAGA-PASS:")
    assert post(client_for(kapolres_okut), "/api/v1/passes", body).status_code == 200
    listed = client_for(guard_okut).get("/api/v1/passes", {"site": str(open_gate.site.pk)})
    badges = {p["holder"]["name"]: p["badge"] for p in listed.json()}
    assert badges["Udin Pekerja"].endswith("…")  # a guard sees the pass, not its secret

    rules_url = f"/api/v1/sites/{open_gate.site.pk}/access-rules"
    rules = {
        "two_person_rule": True,
        "after_hours_start": "19:00",
        "after_hours_end": "06:00",
        "max_per_zone": 25,
    }
    refused = client_for(guard_okut).put(
        rules_url, json.dumps(rules), content_type="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "rules_not_allowed")
    saved = client_for(commissioner_okut).put(
        rules_url, json.dumps(rules), content_type="application/json"
    )
    assert saved.status_code == 200 and saved.json()["max_per_zone"] == 25
    assert client_for(guard_okut).get(rules_url).json()["after_hours_start"] == "19:00:00"
    bad = client_for(commissioner_okut).put(
        rules_url, json.dumps({**rules, "max_per_zone": 0}), content_type="application/json"
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


# ---------------------------------------------------------------------------------------------
# Constant queries


def _fill(gate: Gate, guard: User, commissioner: User, people: int) -> None:
    now = timezone.now()
    for n in range(people):
        issued = services.issue_pass(
            actor=commissioner,
            person=services.PersonData(
                nik=f"16080101019{n:01d}{n + 1:04d}"[:16], name=f"Pekerja {n}"
            ),
            site_id=gate.site.pk,
            zone_ids=[gate.gate_zone.pk],
            kind="worker",
            valid_from=now - dt.timedelta(hours=1),
            valid_until=now + dt.timedelta(hours=8),
        ).obj
        services.check_in(
            actor=guard, id=uuid.uuid4(), badge=issued.qr_payload, zone_id=gate.gate_zone.pk
        )


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_inside_board_and_log_run_constant_queries(
    client_for: Any, open_gate: Gate, guard_okut: User, commissioner_okut: User, bawaslu_okut: User
) -> None:
    inside = f"/api/v1/sites/{open_gate.site.pk}/inside"
    log = f"/api/v1/gate/events?site={open_gate.site.pk}&limit=100"
    client = client_for(bawaslu_okut)
    _fill(open_gate, guard_okut, commissioner_okut, 2)
    few = (_queries(client, inside), _queries(client, log))
    assert client.get(inside).json()["count"] == 2
    _fill_more = 25
    now = timezone.now()
    for n in range(_fill_more):
        issued = services.issue_pass(
            actor=commissioner_okut,
            person=services.PersonData(nik=f"160802010190{n + 10:04d}", name=f"Pekerja B{n}"),
            site_id=open_gate.site.pk,
            zone_ids=[open_gate.gate_zone.pk],
            kind="worker",
            valid_from=now - dt.timedelta(hours=1),
            valid_until=now + dt.timedelta(hours=8),
        ).obj
        services.check_in(
            actor=guard_okut,
            id=uuid.uuid4(),
            badge=issued.qr_payload,
            zone_id=open_gate.gate_zone.pk,
        )
    many = (_queries(client, inside), _queries(client, log))
    assert client.get(inside).json()["count"] == 27
    assert client.get(log).json()["count"] == 27
    assert many == few

"""Finding 3: the look-up by NIK is a POST, answers only what the caller's region holds, is
throttled per user and recorded; a reused id's 409 names no field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from siaga.access.models import Visit, Visitor
from siaga.accounts.models import User
from siaga.privacy.models import LookupLog
from tests.access.conftest import NIK_DRIVER, NIK_GUARD, NIK_OPERATOR, Gate
from tests.conftest import World
from tests.privacy.conftest import post, register

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/visitors/lookup"


def test_own_region_finds_the_person_and_the_look_up_is_recorded(
    gate: Gate, client_for: Any, guard_okut: User
) -> None:
    found = post(client_for(guard_okut), LOOKUP, {"nik": NIK_OPERATOR})
    assert found.status_code == 200
    assert found.json()["name"] == "Rina Operator"
    assert found.json()["nik"] == "1608********0004"
    log = LookupLog.objects.get()
    assert (log.user, log.answer, log.channel, log.region) == (guard_okut, "found", "api", "16.08")
    assert log.visitor_id == gate.operator_pass.visitor_id
    assert NIK_OPERATOR not in json.dumps(list(LookupLog.objects.values_list()), default=str)
    assert len(log.nik_hash) == 64


def test_another_region_is_told_only_that_the_person_is_not_known_there(
    gate: Gate, client_for: Any, kpu_oku: User
) -> None:
    answer = post(client_for(kpu_oku), LOOKUP, {"nik": NIK_OPERATOR})
    assert (answer.status_code, answer.json()["code"]) == (404, "visitor_not_known_here")
    body = answer.content.decode()
    for leak in ("Rina", str(gate.operator_pass.visitor_id), "+62", "16.08", "kpu"):
        assert leak not in body
    assert answer.json()["detail"] is None
    log = LookupLog.objects.get()
    assert (log.user, log.answer, log.region, log.visitor_id) == (
        kpu_oku,
        "not_found",
        "16.01",
        None,
    )


def test_the_nik_never_travels_in_a_url(gate: Gate, client_for: Any, guard_okut: User) -> None:
    client = client_for(guard_okut)
    # The old national look-up by query string is gone.
    old = client.get("/api/v1/visitors", {"nik": NIK_OPERATOR})
    assert old.status_code in (404, 405)
    assert not LookupLog.objects.exists()
    # No operation of the API takes a NIK in its query or path.
    schema = client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        assert "nik" not in path
        for operation in operations.values():
            names = [p["name"] for p in operation.get("parameters", [])]
            assert "nik" not in names, f"{path} takes a NIK in its URL"
    # The gate log's GET refuses a NIK; its POST search takes it.
    refused = client.get("/api/v1/gate/events", {"q": NIK_OPERATOR})
    assert (refused.status_code, refused.json()["code"]) == (422, "nik_not_in_url")
    searched = post(client, "/api/v1/gate/events/search", {"q": NIK_OPERATOR})
    assert searched.status_code == 200


@override_settings(LOOKUP_LIMIT=3, LOOKUP_WINDOW_SECONDS=60)
def test_look_ups_are_throttled_per_user(
    gate: Gate, client_for: Any, guard_okut: User, operator_okut: User
) -> None:
    guard = client_for(guard_okut)
    answers = [post(guard, LOOKUP, {"nik": NIK_GUARD}).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    throttled = post(guard, LOOKUP, {"nik": NIK_GUARD})
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "lookup_throttled"
    assert set(throttled.json()) == {"code", "message", "detail"}
    answers_logged = list(LookupLog.objects.order_by("pk").values_list("answer", flat=True))
    assert answers_logged == ["found", "found", "found", "throttled"]
    # Another user is not slowed by the guard's look-ups.
    assert post(client_for(operator_okut), LOOKUP, {"nik": NIK_GUARD}).status_code == 200


def test_the_look_up_log_is_read_by_bawaslu_not_by_the_gate(
    gate: Gate, client_for: Any, guard_okut: User, bawaslu_okut: User, kpu_oku: User
) -> None:
    post(client_for(guard_okut), LOOKUP, {"nik": NIK_OPERATOR})
    post(client_for(kpu_oku), LOOKUP, {"nik": NIK_OPERATOR})
    read = client_for(bawaslu_okut).get("/api/v1/visitors/lookups")
    assert read.status_code == 200
    assert read.json()["count"] == 1  # OKU Timur's, not OKU's
    item = read.json()["items"][0]
    assert (item["username"], item["answer"], item["region"]) == ("jaga.okut", "found", "16.08")
    for reader in (guard_okut, kpu_oku):
        refused = client_for(reader).get("/api/v1/visitors/lookups")
        assert (refused.status_code, refused.json()["code"]) == (403, "lookups_not_allowed")


def test_a_reused_visit_id_is_refused_without_naming_a_field(
    gate: Gate, world: World, client_for: Any, operator_okut: User
) -> None:
    visit = register(operator_okut, gate.site, nik=NIK_DRIVER, name="Andi Sopir")
    body = {
        "id": str(visit.pk),
        "visitor": {"nik": NIK_OPERATOR, "name": "Orang Lain"},
        "site": str(gate.site.pk),
        "purpose": "meeting",
        "planned_end": visit.planned_end.isoformat(),
    }
    before = (Visit.objects.count(), Visitor.objects.count())
    refused = post(client_for(operator_okut), "/api/v1/visits", body)
    assert (refused.status_code, refused.json()["code"]) == (409, "id_reused")
    assert refused.json()["detail"] == {"id": str(visit.pk)}
    assert "nik" not in refused.content.decode()
    assert (Visit.objects.count(), Visitor.objects.count()) == before
    # The same request again is a replay.
    body["visitor"] = {"nik": NIK_DRIVER, "name": "Andi Sopir"}
    assert post(client_for(operator_okut), "/api/v1/visits", body).status_code == 200


def test_a_reused_pass_id_is_refused_without_naming_a_field(
    gate: Gate, client_for: Any, commissioner_okut: User
) -> None:
    body = {
        "id": str(gate.operator_pass.pk),
        "holder": {"nik": NIK_DRIVER, "name": "Orang Lain"},
        "site": str(gate.site.pk),
        "kind": "staff",
        "valid_until": gate.operator_pass.valid_until.isoformat(),
    }
    refused = post(client_for(commissioner_okut), "/api/v1/passes", body)
    assert (refused.status_code, refused.json()["code"]) == (409, "id_reused")
    assert refused.json()["detail"] == {"id": str(gate.operator_pass.pk)}
    assert "nik" not in refused.content.decode()

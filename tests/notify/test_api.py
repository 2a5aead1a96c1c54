"""The notify API: endpoints, inbox and dead letters, each with its authorization matrix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from siaga.accounts.models import User
from siaga.core.ids import uuid7
from siaga.ledger.models import Entry
from siaga.notify.choices import MessageState
from siaga.notify.models import Endpoint, Message
from tests.conftest import World
from tests.notify.conftest import WebhookReceiver, add_webhook, tell, tell_webhooks

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, payload: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


def endpoints_snapshot() -> list[Any]:
    return list(Endpoint.objects.order_by("id").values())


def messages_snapshot() -> list[Any]:
    return list(Message.objects.order_by("id").values())


def test_a_user_adds_lists_and_removes_their_own_endpoints(
    client_for: Any, guard_okut: User, kpu_oku: User
) -> None:
    client = client_for(guard_okut)
    created = post(
        client, "/api/v1/notify/endpoints", {"channel": "telegram", "address": "-100123"}
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["channel"], body["address"], body["unit"], body["secret"]) == (
        "telegram",
        "-100123",
        None,
        None,
    )
    listed = client.get("/api/v1/notify/endpoints").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert client_for(kpu_oku).get("/api/v1/notify/endpoints").json() == []

    before = endpoints_snapshot()
    other = client_for(kpu_oku).delete(f"/api/v1/notify/endpoints/{body['id']}")
    assert other.status_code == 404
    assert other.json()["code"] == "endpoint_not_found"
    assert endpoints_snapshot() == before

    removed = client.delete(f"/api/v1/notify/endpoints/{body['id']}")
    assert removed.status_code == 200
    assert removed.json()["active"] is False
    assert client.get("/api/v1/notify/endpoints").json() == []
    assert Endpoint.objects.get(pk=body["id"]).active is False


def test_an_endpoint_created_twice_with_one_id_is_one_endpoint(
    client_for: Any, guard_okut: User
) -> None:
    client = client_for(guard_okut)
    payload = {"id": str(uuid7()), "channel": "email", "address": "jaga@okut.example"}
    assert post(client, "/api/v1/notify/endpoints", payload).status_code == 201
    assert post(client, "/api/v1/notify/endpoints", payload).status_code == 200
    reused = post(client, "/api/v1/notify/endpoints", {**payload, "address": "x@okut.example"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "id_reused"
    duplicate = post(client, "/api/v1/notify/endpoints", {**payload, "id": str(uuid7())})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "endpoint_exists"
    assert Endpoint.objects.filter(user=guard_okut).count() == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"channel": "telegram", "address": "abc"}, "endpoint_address_invalid"),
        ({"channel": "telegram", "address": "١٢٣"}, "endpoint_address_invalid"),
        ({"channel": "telegram", "address": "12.5"}, "endpoint_address_invalid"),
        ({"channel": "email", "address": "not-an-address"}, "endpoint_address_invalid"),
        ({"channel": "webhook", "address": "ftp://cc.polres.example/", "unit": 1}, None),
        ({"channel": "webhook", "address": "https://cc.polres.example/"}, "endpoint_unit_required"),
        ({"channel": "telegram", "address": "123", "unit": 1}, "endpoint_unit_not_allowed"),
        ({"channel": "telegram", "address": "123", "timeout": 2}, "endpoint_timeout_invalid"),
        ({"channel": "sms", "address": "0812"}, "validation_error"),
        ({"channel": "email"}, "validation_error"),
    ],
)
def test_bad_endpoint_input_is_422_with_a_stable_code(
    client_for: Any, world: World, admin_okut: User, payload: dict[str, Any], code: str | None
) -> None:
    if "unit" in payload:
        payload = {**payload, "unit": world.units["polri:16.08"].pk}
    before = endpoints_snapshot()
    response = post(client_for(admin_okut), "/api/v1/notify/endpoints", payload)
    assert response.status_code == 422
    assert response.json()["code"] == (code or "endpoint_address_invalid")
    assert endpoints_snapshot() == before


def test_webhooks_are_managed_by_admins_of_the_unit(
    client_for: Any,
    world: World,
    admin_okut: User,
    operator_okut: User,
    admin_oku: User,
) -> None:
    unit = world.units["polri:16.08"]
    payload = {
        "channel": "webhook",
        "address": "https://cc.polres-okut.example/siaga?token=abc",
        "unit": unit.pk,
        "timeout": 2.5,
    }
    before = endpoints_snapshot()
    refused = post(client_for(operator_okut), "/api/v1/notify/endpoints", payload)
    assert refused.status_code == 403
    assert refused.json()["code"] == "unit_out_of_scope"
    elsewhere = post(client_for(admin_oku), "/api/v1/notify/endpoints", payload)
    assert elsewhere.status_code == 422
    assert elsewhere.json()["code"] == "unit_unknown"
    assert endpoints_snapshot() == before

    created = post(client_for(admin_okut), "/api/v1/notify/endpoints", payload)
    assert created.status_code == 201
    body = created.json()
    assert len(body["secret"]) == 64
    assert (body["unit"], body["timeout"]) == (unit.pk, 2.5)
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"]
    listed = client_for(admin_okut).get("/api/v1/notify/endpoints").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert client_for(admin_oku).get("/api/v1/notify/endpoints").json() == []
    assert client_for(operator_okut).get("/api/v1/notify/endpoints").json() == []

    entry = Entry.objects.get(kind="notify.webhook_added")
    assert (entry.subject_id, entry.region, entry.actor) == (body["id"], "16.08", "admin.okut")
    assert json.loads(entry.payload) == {
        "unit": unit.name,
        "origin": "https://cc.polres-okut.example",
    }

    assert client_for(admin_oku).delete(f"/api/v1/notify/endpoints/{body['id']}").status_code == (
        404
    )
    assert Endpoint.objects.get(pk=body["id"]).active is True
    removed = client_for(admin_okut).delete(f"/api/v1/notify/endpoints/{body['id']}")
    assert removed.status_code == 200
    assert Entry.objects.filter(kind="notify.webhook_removed", subject_id=body["id"]).count() == 1


def test_the_inbox_shows_only_ones_own_messages_unread_first(
    client_for: Any, guard_okut: User, operator_okut: User
) -> None:
    [old] = tell(guard_okut, 1)
    tell(guard_okut, 2)
    tell(operator_okut, 3)
    client = client_for(guard_okut)
    assert client.post(f"/api/v1/notify/inbox/{old.pk}/read").status_code == 200

    tell(guard_okut, 4)
    body = client.get("/api/v1/notify/inbox").json()
    assert (body["count"], body["unread"]) == (3, 2)
    assert [m["title"] for m in body["items"]] == [
        "Pemberitahuan 4",
        "Pemberitahuan 2",
        "Pemberitahuan 1",
    ]
    assert body["items"][2]["read_at"] is not None
    unread = client.get("/api/v1/notify/inbox?unread=true").json()
    assert unread["count"] == 2


def test_another_persons_message_is_404_and_stays_unread(
    client_for: Any, guard_okut: User, operator_okut: User
) -> None:
    [message] = tell(operator_okut, 1)
    before = messages_snapshot()
    response = client_for(guard_okut).post(f"/api/v1/notify/inbox/{message.pk}/read")
    assert response.status_code == 404
    assert response.json()["code"] == "message_not_found"
    assert messages_snapshot() == before
    assert client_for(guard_okut).get("/api/v1/notify/inbox").json()["count"] == 0
    assert client_for(None).get("/api/v1/notify/inbox").status_code == 401


@pytest.fixture
def dead_letter(world: World, receiver: WebhookReceiver) -> Message:
    add_webhook(receiver, world.units["polri:16.08"], "/fail")
    [message] = tell_webhooks("16.08.01", 1)
    Message.objects.filter(pk=message.pk).update(
        state=MessageState.DEAD, attempts=8, next_attempt_at=None, last_error="webhook: HTTP 500"
    )
    return Message.objects.get(pk=message.pk)


def test_dead_letters_are_for_admins_in_scope(
    client_for: Any,
    dead_letter: Message,
    admin_okut: User,
    admin_oku: User,
    operator_okut: User,
    bawaslu_okut: User,
    root: User,
) -> None:
    for user in (operator_okut, bawaslu_okut):
        refused = client_for(user).get("/api/v1/notify/dead")
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
    mine = client_for(admin_okut).get("/api/v1/notify/dead").json()
    assert mine["count"] == 1
    item = mine["items"][0]
    assert (item["id"], item["attempts"], item["last_error"], item["recipient"]) == (
        str(dead_letter.pk),
        8,
        "webhook: HTTP 500",
        None,
    )
    assert item["endpoint"]["unit"] == dead_letter.endpoint.unit_id  # type: ignore[union-attr]
    assert client_for(admin_oku).get("/api/v1/notify/dead").json() == {"count": 0, "items": []}
    assert client_for(root).get("/api/v1/notify/dead").json()["count"] == 1


def test_dead_letters_of_people_show_to_admins_of_their_units(
    client_for: Any, guard_okut: User, admin_okut: User, admin_oku: User
) -> None:
    chat = client_for(guard_okut).post(
        "/api/v1/notify/endpoints",
        json.dumps({"channel": "telegram", "address": "555"}),
        content_type="application/json",
    )
    assert chat.status_code == 201
    messages = tell(guard_okut, 1)
    Message.objects.filter(pk=messages[1].pk).update(
        state=MessageState.DEAD, next_attempt_at=None, last_error="Bad Request: chat not found"
    )
    [item] = client_for(admin_okut).get("/api/v1/notify/dead").json()["items"]
    assert (item["recipient"], item["channel"]) == ("jaga.okut", "telegram")
    assert client_for(admin_oku).get("/api/v1/notify/dead").json()["count"] == 0


def test_retrying_a_dead_letter_over_the_api(
    client_for: Any,
    dead_letter: Message,
    admin_okut: User,
    admin_oku: User,
    operator_okut: User,
) -> None:
    url = f"/api/v1/notify/messages/{dead_letter.pk}/retry"
    before = messages_snapshot()
    refused = post(client_for(operator_okut), url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    hidden = post(client_for(admin_oku), url)
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "message_not_found"
    assert post(client_for(None), url).status_code == 401
    assert messages_snapshot() == before

    retried = post(client_for(admin_okut), url)
    assert retried.status_code == 200
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    message = Message.objects.get(pk=dead_letter.pk)
    assert (message.state, message.attempts) == (MessageState.PENDING, 0)
    assert message.next_attempt_at is not None

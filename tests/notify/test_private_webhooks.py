"""A webhook reaches public addresses only: a unit admin cannot aim SIAGA's signed requests at
this machine, a private network or cloud metadata — neither by the address nor by a name that
resolves there (the tests' receivers on 127.0.0.1 are allowed by the suite's setting, set off
here)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from siaga.accounts.models import User
from siaga.ledger.models import Entry
from siaga.notify.channels import is_private_host
from siaga.notify.choices import MessageState
from siaga.notify.models import Endpoint, Message
from tests.conftest import World
from tests.notify.conftest import WebhookReceiver, add_webhook, deliver_everything, tell_webhooks

pytestmark = pytest.mark.django_db

PRIVATE = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://[fd00::1]/hook",
    "http://100.64.0.1/hook",
]


@pytest.mark.parametrize("address", PRIVATE)
def test_a_private_webhook_address_is_refused_and_nothing_is_written(
    address: str, client_for: Any, world: World, admin_okut: User, settings: SettingsWrapper
) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    endpoints, entries = Endpoint.objects.count(), Entry.objects.count()
    response = client_for(admin_okut).post(
        "/api/v1/notify/endpoints",
        json.dumps(
            {"channel": "webhook", "address": address, "unit": world.units["polri:16.08"].pk}
        ),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "endpoint_address_private"
    assert (Endpoint.objects.count(), Entry.objects.count()) == (endpoints, entries)


def test_a_public_address_is_not_private() -> None:
    assert not is_private_host("cc.polres-okut.example")
    assert not is_private_host("8.8.8.8")
    assert not is_private_host("2001:4860:4860::8888")


def test_a_stored_endpoint_that_leads_to_a_private_address_is_dead_lettered_not_sent(
    world: World, receiver: WebhookReceiver, settings: SettingsWrapper
) -> None:
    # Stored while the deployment allowed it (or by name): the send itself looks again.
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    [message] = tell_webhooks("16.08.01", 1)
    deliver_everything()
    dead = Message.objects.get(pk=message.pk)
    assert dead.state == MessageState.DEAD
    assert dead.attempts == 1
    assert dead.last_error == "webhook: 127.0.0.1 is not a public address"
    assert receiver.requests == []

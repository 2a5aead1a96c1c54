"""The pages: the inbox with its unread badge, endpoints on the account page, dead letters."""

from __future__ import annotations

from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.notify.choices import MessageState
from siaga.notify.models import Endpoint, Message
from tests.conftest import World
from tests.notify.conftest import WebhookReceiver, add_webhook, tell, tell_webhooks

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_ones_messages_and_the_bar_counts_the_unread(
    client_for: Any, guard_okut: User, operator_okut: User
) -> None:
    tell(guard_okut, 1, title="Asap di Gudang A")
    tell(guard_okut, 2, title="Pintu gudang terbuka")
    tell(operator_okut, 3, title="Pesan orang lain")
    client = client_for(guard_okut)

    page = client.get("/notifikasi/").content.decode()
    assert "Asap di Gudang A" in page
    assert "Pintu gudang terbuka" in page
    assert "Pesan orang lain" not in page
    assert 'href="/insiden/1/"' in page
    badge = client.get("/notifikasi/badge/").content.decode()
    assert ">2<" in badge
    assert ">2<" in client.get("/").content.decode().split('id="notify-badge"')[1][:200]


def test_marking_read_with_htmx_swaps_the_line_and_updates_the_badge(
    client_for: Any, guard_okut: User, operator_okut: User
) -> None:
    [message] = tell(guard_okut, 1)
    [others] = tell(operator_okut, 2)
    client = client_for(guard_okut)
    response = client.post(f"/notifikasi/{message.pk}/baca/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notify-read"
    assert f'id="message-{message.pk}"' in response.content.decode()
    assert Message.objects.get(pk=message.pk).read_at is not None
    assert "badge" not in client.get("/notifikasi/badge/").content.decode().split(">", 1)[1]

    assert client.post(f"/notifikasi/{others.pk}/baca/").status_code == 404
    assert Message.objects.get(pk=others.pk).read_at is None


def test_mark_all_read(client_for: Any, guard_okut: User) -> None:
    tell(guard_okut, 1)
    tell(guard_okut, 2)
    response = client_for(guard_okut).post("/notifikasi/baca-semua/")
    assert response.status_code == 302
    assert Message.objects.unread_count(guard_okut) == 0


def test_the_account_page_adds_and_removes_ones_addresses(
    client_for: Any, guard_okut: User, kpu_oku: User
) -> None:
    client = client_for(guard_okut)
    added = client.post("/notifikasi/tujuan/", {"channel": "telegram", "address": "987654"})
    assert added.status_code == 302
    assert added["Location"] == "/account/"
    endpoint = Endpoint.objects.get(user=guard_okut)
    assert (endpoint.channel, endpoint.address, endpoint.active) == ("telegram", "987654", True)
    page = client.get("/account/").content.decode()
    assert "987654" in page
    assert f"/notifikasi/tujuan/{endpoint.pk}/hapus/" in page

    bad = client.post("/notifikasi/tujuan/", {"channel": "telegram", "address": "@me"}, follow=True)
    assert "endpoint_address_invalid" not in bad.content.decode()
    assert Endpoint.objects.filter(user=guard_okut).count() == 1
    webhook = client.post("/notifikasi/tujuan/", {"channel": "webhook", "address": "http://x/"})
    assert webhook.status_code == 302
    assert Endpoint.objects.filter(user=guard_okut).count() == 1

    assert client_for(kpu_oku).post(f"/notifikasi/tujuan/{endpoint.pk}/hapus/").status_code == 404
    assert Endpoint.objects.get(pk=endpoint.pk).active is True
    assert client.post(f"/notifikasi/tujuan/{endpoint.pk}/hapus/").status_code == 302
    assert Endpoint.objects.get(pk=endpoint.pk).active is False
    assert "987654" not in client.get("/account/").content.decode()


def test_the_dead_letter_page_is_for_admins_and_sends_again(
    client_for: Any,
    world: World,
    receiver: WebhookReceiver,
    admin_okut: User,
    admin_oku: User,
    operator_okut: User,
) -> None:
    add_webhook(receiver, world.units["polri:16.08"], "/fail")
    [message] = tell_webhooks("16.08.01", 1, title="Kebakaran di Gudang A")
    Message.objects.filter(pk=message.pk).update(
        state=MessageState.DEAD, next_attempt_at=None, last_error="webhook: HTTP 500: {}"
    )
    assert client_for(operator_okut).get("/notifikasi/gagal/").status_code == 403
    assert (
        "Kebakaran di Gudang A"
        not in client_for(admin_oku).get("/notifikasi/gagal/").content.decode()
    )
    page = client_for(admin_okut).get("/notifikasi/gagal/").content.decode()
    assert "Kebakaran di Gudang A" in page
    assert "webhook: HTTP 500: {}" in page
    retry_url = f"/notifikasi/gagal/{message.pk}/kirim-ulang/"
    assert retry_url in page

    assert client_for(operator_okut).post(retry_url).status_code == 403
    assert client_for(admin_oku).post(retry_url).status_code == 404
    assert Message.objects.get(pk=message.pk).state == MessageState.DEAD
    response = client_for(admin_okut).post(retry_url)
    assert response.status_code == 302
    assert Message.objects.get(pk=message.pk).state == MessageState.PENDING

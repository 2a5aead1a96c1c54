"""The custody API: good input end to end, and the bad input the issue names, each answered
with its code and leaving nothing half-written."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.ledger.models import Entry
from siaga.logistics.models import Discrepancy, Handover, Package, Scan, Seal, Stock
from tests.logistics.chain import ELECTION, Chain, chain_fixture

__all__ = ["chain_fixture"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def package_body(chain: Chain, destination: Any, seals: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "site": chain.warehouse.pk,
        "destination": destination.pk,
        "election": ELECTION,
        "kind": "box",
        "lines": [{"item": "ss-ppwp", "quantity": 255}, {"item": "tinta", "quantity": 2}],
        "seals": seals,
        **extra,
    }


def handover_body(chain: Chain, codes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "from_site": chain.warehouse.pk,
        "to_site": chain.ppk.pk,
        "election": ELECTION,
        "packages": codes,
        "witnesses": [
            {"name": "Bripka Joko", "agency": "polri"},
            {"name": "Dewi", "agency": "bawaslu", "position": "Panwascam"},
        ],
        "place": "Gudang KPU OKU Timur",
        **extra,
    }


def scan_body(handover_id: Any, action: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "action": action,
        "code": code,
        "handover": handover_id,
        **extra,
    }


def test_pack_dispatch_scan_and_sign_over_http(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    operator = client_for(operator_okut)
    packed = post(operator, "/api/v1/custody/packages", package_body(chain, chain.tps1, ["SG-1"]))
    assert packed.status_code == 201, packed.content
    code = packed.json()["code"]
    assert packed.json()["qr_payload"] == f"SIAGA-PKG:{code}"
    assert packed.json()["seals"][0]["serial"] == "SG-1"
    sent = post(operator, "/api/v1/custody/handovers", handover_body(chain, [code]))
    assert sent.status_code == 201, sent.content
    handover = sent.json()
    assert handover["state"] == "dispatched"
    assert handover["packages"] == [
        {
            "code": code,
            "destination": chain.tps1.code,
            "seals": ["SG-1"],
            "received": False,
            "seals_seen": [],
        }
    ]
    receiver = client_for(chain.ppk_martapura)
    batch = {
        "scans": [
            scan_body(handover["id"], "receive", f"SIAGA-PKG:{code}"),
            scan_body(handover["id"], "seal", "sg-1"),
        ]
    }
    scanned = post(receiver, "/api/v1/custody/scans", batch)
    assert scanned.status_code == 200, scanned.content
    assert scanned.json()["accepted"] == 2 and scanned.json()["refused"] == 0
    signed = post(receiver, f"/api/v1/custody/handovers/{handover['id']}/receive", {})
    assert signed.status_code == 200, signed.content
    assert signed.json()["state"] == "received"
    assert signed.json()["receiver"] == "ppk.martapura"
    assert signed.json()["packages"][0]["seals_seen"] == ["SG-1"]
    shown = receiver.get(f"/api/v1/custody/packages/{code.lower()}")
    assert shown.status_code == 200
    assert shown.json()["location"]["name"] == chain.ppk.name
    assert shown.json()["seals"][0]["state"] == "verified"


def test_dispatching_more_than_stock_is_409_insufficient_stock(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    body = handover_body(chain, [], lines=[{"item": "tinta", "quantity": 21}])
    answer = post(client_for(operator_okut), "/api/v1/custody/handovers", body)
    assert answer.status_code == 409
    assert answer.json()["code"] == "insufficient_stock"
    assert answer.json()["detail"] == {"item": "tinta", "in_stock": 20, "wanted": 21}
    assert not Handover.objects.exists()
    assert Stock.objects.get(site=chain.warehouse, item__code="tinta").quantity == 20


def test_a_seal_used_before_is_409_seal_reused(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    operator = client_for(operator_okut)
    assert (
        post(
            operator, "/api/v1/custody/packages", package_body(chain, chain.tps1, ["SG-1"])
        ).status_code
        == 201
    )
    entries = Entry.objects.count()
    again = post(operator, "/api/v1/custody/packages", package_body(chain, chain.tps2, ["SG-1"]))
    assert again.status_code == 409
    assert again.json()["code"] == "seal_reused"
    assert again.json()["detail"] == {"seals": ["SG-1"]}
    assert Package.objects.count() == 1 and Seal.objects.count() == 1
    assert Entry.objects.count() == entries


def test_a_package_to_the_wrong_place_is_409_wrong_destination_and_writes_nothing(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    operator = client_for(operator_okut)
    far = post(operator, "/api/v1/custody/packages", package_body(chain, chain.tps_far, ["SG-9"]))
    answer = post(operator, "/api/v1/custody/handovers", handover_body(chain, [far.json()["code"]]))
    assert answer.status_code == 409
    assert answer.json()["code"] == "wrong_destination"
    assert answer.json()["detail"]["packages"] == [far.json()["code"]]
    assert not Handover.objects.exists()
    assert not Alarm.objects.filter(source="logistics").exists()
    assert not Discrepancy.objects.exists()


@pytest.mark.parametrize(
    ("quantity", "status", "code"),
    [
        (-3, 422, "quantity_invalid"),
        (2.5, 422, "validation_error"),
        ("lots", 422, "validation_error"),
    ],
)
def test_negative_or_fractional_quantities_are_422(
    chain: Chain, operator_okut: User, client_for: Any, quantity: Any, status: int, code: str
) -> None:
    body = package_body(chain, chain.tps1, ["SG-1"])
    body["lines"] = [{"item": "ss-ppwp", "quantity": quantity}]
    answer = post(client_for(operator_okut), "/api/v1/custody/packages", body)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert not Package.objects.exists() and not Seal.objects.exists()
    assert Stock.objects.get(site=chain.warehouse, item__code="ss-ppwp").quantity == 2000


def test_an_unknown_package_is_404_in_its_result_and_the_batch_goes_on(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    operator = client_for(operator_okut)
    code = post(
        operator, "/api/v1/custody/packages", package_body(chain, chain.tps1, ["SG-1"])
    ).json()["code"]
    handover = post(operator, "/api/v1/custody/handovers", handover_body(chain, [code])).json()
    batch = {
        "scans": [
            scan_body(handover["id"], "receive", "SIAGA-PKG:TIDAK-ADA"),
            scan_body(handover["id"], "receive", code),
        ]
    }
    receiver = client_for(chain.ppk_martapura)
    first = post(receiver, "/api/v1/custody/scans", batch)
    assert first.status_code == 200
    assert [(r["status"], r["code"]) for r in first.json()["results"]] == [
        (404, "package_unknown"),
        (201, ""),
    ]
    rows = (Scan.objects.count(), Entry.objects.count())
    # The phone never heard the answer and sends the same batch again: nothing twice.
    second = post(receiver, "/api/v1/custody/scans", batch)
    assert [(r["status"], r["code"]) for r in second.json()["results"]] == [
        (404, "package_unknown"),
        (200, ""),
    ]
    # Both scans are on record (the refused one too), each once.
    assert (Scan.objects.count(), Entry.objects.count()) == rows
    assert rows[0] == 2


def test_a_receiver_outside_the_destination_s_scope_gets_403_and_nothing_changes(
    chain: Chain, operator_okut: User, kpu_oku: User, client_for: Any
) -> None:
    operator = client_for(operator_okut)
    code = post(
        operator, "/api/v1/custody/packages", package_body(chain, chain.tps1, ["SG-1"])
    ).json()["code"]
    handover = post(operator, "/api/v1/custody/handovers", handover_body(chain, [code])).json()
    entries = Entry.objects.count()
    outsider = client_for(kpu_oku)
    signed = post(outsider, f"/api/v1/custody/handovers/{handover['id']}/receive", {})
    assert signed.status_code == 403
    assert signed.json()["code"] == "handover_out_of_scope"
    scanned = post(
        outsider, "/api/v1/custody/scans", {"scans": [scan_body(handover["id"], "receive", code)]}
    )
    assert [(r["status"], r["code"]) for r in scanned.json()["results"]] == [
        (403, "handover_out_of_scope")
    ]
    assert Handover.objects.get().state == "dispatched"
    assert Entry.objects.count() == entries and not Scan.objects.exists()
    # Nor may the outsider read it.
    assert outsider.get(f"/api/v1/custody/handovers/{handover['id']}").status_code == 404


def test_scans_need_a_signed_in_user_and_a_sane_batch(chain: Chain, client_for: Any) -> None:
    anonymous = post(client_for(None), "/api/v1/custody/scans", {"scans": []})
    assert anonymous.status_code == 401
    empty = post(client_for(chain.ppk_martapura), "/api/v1/custody/scans", {"scans": []})
    assert empty.status_code == 422 and empty.json()["code"] == "validation_error"
    bad_id = post(
        client_for(chain.ppk_martapura),
        "/api/v1/custody/scans",
        {"scans": [{"id": "x", "action": "receive", "code": "A", "handover": str(uuid.uuid4())}]},
    )
    assert bad_id.status_code == 422
    assert not Scan.objects.exists()


def test_a_receipt_with_a_shortfall_over_http(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    body = {
        "id": str(uuid.uuid4()),
        "site": chain.warehouse.pk,
        "election": ELECTION,
        "vendor": "PT Kotak Nusantara",
        "delivery_note": "SJ-77",
        "lines": [{"item": "kotak-suara", "expected": 100, "counted": 95}],
    }
    client = client_for(operator_okut)
    answer = post(client, "/api/v1/custody/receipts", body)
    assert answer.status_code == 201, answer.content
    assert answer.json()["lines"] == [
        {"item": "kotak-suara", "expected": 100, "counted": 95, "damaged": 0, "shortfall": 5}
    ]
    assert len(answer.json()["discrepancies"]) == 1
    assert post(client, "/api/v1/custody/receipts", body).status_code == 200
    assert Stock.objects.get(site=chain.warehouse, item__code="kotak-suara").quantity == 50 + 95
    listed = client.get("/api/v1/custody/discrepancies?state=open")
    assert [d["kind"] for d in listed.json()] == ["shortfall"]

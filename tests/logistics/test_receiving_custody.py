"""Receiving and custody (issue 22): two people per BAST, witnesses, one plate and date check,
delivery notes once per vendor, damage per item at receipt, a wrong way refused with nothing
written, and the PPK told of a BAST on its way."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput
from siaga.ledger.models import Entry
from siaga.logistics import replay, services
from siaga.logistics.models import (
    Discrepancy,
    Handover,
    HandoverLine,
    Package,
    Receipt,
    ReceiptLine,
    SortingSession,
    Stock,
)
from siaga.notify.models import Message
from tests.logistics.chain import ELECTION, H5, Chain, chain_fixture, pack

__all__ = ["chain_fixture"]

pytestmark = pytest.mark.django_db

WITNESSES = [services.Witness("Bripka Joko", "polri"), services.Witness("Dewi", "bawaslu")]


def counts() -> dict[str, int]:
    return {
        "handovers": Handover.objects.count(),
        "receipts": Receipt.objects.count(),
        "receipt_lines": ReceiptLine.objects.count(),
        "discrepancies": Discrepancy.objects.count(),
        "alarms": Alarm.objects.count(),
        "entries": Entry.objects.count(),
        "messages": Message.objects.count(),
        "sessions": SortingSession.objects.count(),
    }


def dispatch(chain: Chain, actor: User, **kw: Any) -> Handover:
    args: dict[str, Any] = {
        "actor": actor,
        "id": uuid.uuid4(),
        "from_site_id": chain.warehouse.pk,
        "to_site_id": chain.ppk.pk,
        "election": ELECTION,
        "witnesses": WITNESSES,
        "now": H5,
    }
    args.update(kw)
    return services.dispatch_handover(**args).obj


def receipt(actor: User, chain: Chain, **kw: Any) -> Receipt:
    args: dict[str, Any] = {
        "actor": actor,
        "id": uuid.uuid4(),
        "site_id": chain.warehouse.pk,
        "election": ELECTION,
        "vendor": "PT Percetakan Sriwijaya",
        "delivery_note": "SJ-2029-0117",
        "lines": [services.ReceiptLineIn("tinta", 10, 10)],
        "now": H5,
    }
    args.update(kw)
    return services.record_receipt(**args).obj


# --- 1. two people ----------------------------------------------------------------------------


def test_the_giver_cannot_receive_their_own_bast_and_nothing_is_written(
    chain: Chain, operator_okut: User
) -> None:
    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 2)])
    before = counts()
    with pytest.raises(Conflict) as refused:
        services.receive_handover(actor=operator_okut, handover_id=handover.pk, now=H5)
    assert (refused.value.code, refused.value.status) == ("receiver_is_giver", 409)
    handover.refresh_from_db()
    assert (handover.state, handover.receiver_id) == ("dispatched", None)
    assert counts() == before
    assert Stock.objects.filter(site=chain.ppk).count() == 0


def test_the_giver_gets_409_receiver_is_giver_over_http(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 2)])
    before = counts()
    answer = client_for(operator_okut).post(
        f"/api/v1/custody/handovers/{handover.pk}/receive", {}, content_type="application/json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "receiver_is_giver"
    assert counts() == before


# --- 2. witnesses -----------------------------------------------------------------------------


def test_a_bast_without_witnesses_is_refused(chain: Chain, operator_okut: User) -> None:
    box = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        dispatch(chain, operator_okut, packages=[box.code], witnesses=[])
    assert (refused.value.code, refused.value.status) == ("witnesses_required", 422)
    assert counts() == before
    assert Package.objects.get(pk=box.pk).state == "packed"


def test_a_return_bast_needs_a_police_or_bawaslu_witness(chain: Chain, operator_okut: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.dispatch_handover(
            actor=chain.ppk_martapura,
            id=uuid.uuid4(),
            from_site_id=chain.ppk.pk,
            to_site_id=chain.warehouse.pk,
            election=ELECTION,
            lines=[services.Line("tinta", 1)],
            witnesses=[services.Witness("Pak Lurah", "other")],
            leg="return",
            now=H5,
        )
    assert refused.value.code == "witnesses_required"
    assert refused.value.detail == {"field": "witnesses", "leg": "return"}


# --- 3. plate and dates -----------------------------------------------------------------------


@pytest.mark.parametrize("plate", ["<script>alert(1)</script>", "12345", "BG-12345-ABCD"])
def test_a_bad_plate_on_a_bast_is_plate_invalid(
    chain: Chain, operator_okut: User, plate: str
) -> None:
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        dispatch(chain, operator_okut, lines=[services.Line("tinta", 1)], vehicle_plate=plate)
    assert (refused.value.code, refused.value.status) == ("plate_invalid", 422)
    assert counts() == before


def test_a_plate_is_kept_in_its_one_form(chain: Chain, operator_okut: User) -> None:
    handover = dispatch(
        chain, operator_okut, lines=[services.Line("tinta", 1)], vehicle_plate="bg-8841.kb"
    )
    assert handover.vehicle_plate == "BG 8841 KB"
    assert receipt(operator_okut, chain, vehicle_plate="bg 1 ri").vehicle_plate == "BG 1 RI"


def test_a_script_plate_over_http_is_422_plate_invalid(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    body = {
        "id": str(uuid.uuid4()),
        "from_site": str(chain.warehouse.pk),
        "to_site": str(chain.ppk.pk),
        "election": ELECTION,
        "lines": [{"item": "tinta", "quantity": 1}],
        "witnesses": [{"name": "Bripka Joko", "agency": "polri"}],
        "vehicle_plate": "<script>",
    }
    answer = client_for(operator_okut).post(
        "/api/v1/custody/handovers", body, content_type="application/json"
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "plate_invalid"
    assert not Handover.objects.exists()


@pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(9999, 12, 31)])
def test_dates_outside_the_election_window_are_refused(
    chain: Chain, operator_okut: User, day: dt.date
) -> None:
    moment = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC)
    before = counts()
    with pytest.raises(InvalidInput) as sorting:
        services.record_sorting(
            actor=operator_okut,
            id=uuid.uuid4(),
            site_id=chain.warehouse.pk,
            election=ELECTION,
            lines=[services.SortingLineIn("ss-ppwp", 100, 0)],
            started_at=moment,
            ended_at=moment,
        )
    assert (sorting.value.code, sorting.value.detail["field"]) == (
        "date_out_of_range",
        "started_at",
    )
    with pytest.raises(InvalidInput) as delivery:
        receipt(operator_okut, chain, now=moment)
    assert delivery.value.code == "date_out_of_range"
    with pytest.raises(InvalidInput) as destruction:
        services.record_destruction(
            actor=operator_okut,
            id=uuid.uuid4(),
            site_id=chain.warehouse.pk,
            election=ELECTION,
            lines=[services.DestructionLineIn("ss-ppwp", excess=1)],
            witnesses=WITNESSES,
            method="dibakar",
            now=moment,
        )
    assert destruction.value.code == "date_out_of_range"
    with pytest.raises(InvalidInput) as expected:
        dispatch(chain, operator_okut, lines=[services.Line("tinta", 1)], expected_at=moment)
    assert expected.value.code == "date_out_of_range"
    assert counts() == before


def test_the_window_is_a_setting(chain: Chain, operator_okut: User, settings: Any) -> None:
    settings.LOGISTICS_WINDOW_BEFORE_DAYS = 1
    with pytest.raises(InvalidInput) as refused:
        receipt(operator_okut, chain, now=H5)  # H-5: five days before voting day
    assert refused.value.detail == {
        "field": "received_at",
        "first": "2029-02-13",
        "last": "2031-02-14",
    }


# --- 4. delivery notes ------------------------------------------------------------------------


def test_a_second_receipt_under_a_vendor_s_delivery_note_is_refused(
    chain: Chain, operator_okut: User
) -> None:
    first = receipt(operator_okut, chain)
    before = counts()
    stock = Stock.objects.get(site=chain.warehouse, item__code="tinta").quantity
    with pytest.raises(Conflict) as refused:
        receipt(
            operator_okut, chain, vendor="pt percetakan sriwijaya ", delivery_note="sj-2029-0117"
        )
    assert (refused.value.code, refused.value.status) == ("delivery_note_exists", 409)
    assert refused.value.detail == {"delivery_note": "SJ-2029-0117", "receipt": str(first.pk)}
    assert counts() == before
    assert Stock.objects.get(site=chain.warehouse, item__code="tinta").quantity == stock
    # The same note of another vendor is another delivery.
    assert receipt(operator_okut, chain, vendor="PT Kotak Nusantara").delivery_note == (
        "SJ-2029-0117"
    )


def test_a_receipt_with_no_items_is_items_required(chain: Chain, operator_okut: User) -> None:
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        receipt(operator_okut, chain, lines=[])
    assert (refused.value.code, refused.value.status) == ("items_required", 422)
    assert counts() == before


def test_a_repeated_delivery_note_over_http_is_409(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    body = {
        "site": str(chain.warehouse.pk),
        "election": ELECTION,
        "vendor": "PT Percetakan Sriwijaya",
        "delivery_note": "SJ-0001",  # the chain's own delivery
        "lines": [{"item": "tinta", "expected": 1, "counted": 1}],
    }
    client = client_for(operator_okut)
    answer = client.post(
        "/api/v1/custody/receipts", {"id": str(uuid.uuid4()), **body}, "application/json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "delivery_note_exists"
    assert Receipt.objects.count() == 1


# --- 5. damage and shortfall per item ---------------------------------------------------------


def test_the_receiver_records_damaged_and_short_per_item_with_a_note(
    chain: Chain, operator_okut: User
) -> None:
    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 10)])
    services.receive_handover(
        actor=chain.ppk_martapura,
        handover_id=handover.pk,
        lines=[services.ReceivedLine("tinta", 8, 3)],
        note="Dua botol tumpah di jalan.",
        now=H5 + dt.timedelta(hours=4),
    )
    handover.refresh_from_db()
    assert (handover.state, handover.receive_note) == ("discrepant", "Dua botol tumpah di jalan.")
    line = HandoverLine.objects.get(handover=handover)
    assert (line.quantity, line.received, line.damaged, line.short) == (10, 8, 3, 2)
    row = Stock.objects.get(site=chain.ppk, item__code="tinta")
    assert (row.quantity, row.damaged) == (5, 3)
    assert sorted(
        Discrepancy.objects.filter(handover=handover).values_list("kind", "quantity")
    ) == [("damaged", 3), ("shortfall", 2)]
    _state, differences = replay.rebuild(check=True)
    assert differences == []


def test_more_damaged_than_received_is_refused(chain: Chain, operator_okut: User) -> None:
    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 10)])
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        services.receive_handover(
            actor=chain.ppk_martapura,
            handover_id=handover.pk,
            lines=[services.ReceivedLine("tinta", 2, 3)],
        )
    assert refused.value.code == "damaged_exceeds_count"
    assert counts() == before


def test_the_note_and_damage_show_on_the_bast_page_and_pdf(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 10)])
    services.receive_handover(
        actor=chain.ppk_martapura,
        handover_id=handover.pk,
        lines=[services.ReceivedLine("tinta", 10, 1)],
        note="Satu kardus basah.",
    )
    client = client_for(chain.ppk_martapura)
    page = client.get(f"/logistik/custody/handovers/{handover.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="handover-note">Satu kardus basah.</dd>' in body
    pdf = client.get(f"/logistik/custody/handovers/{handover.pk}/bast.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


# --- 6. the wrong way -------------------------------------------------------------------------


def test_the_wrong_way_over_http_is_409_and_writes_nothing(
    chain: Chain, operator_okut: User, client_for: Any
) -> None:
    far = pack(chain, operator_okut, chain.tps_far, ["SG-0009"]).obj
    before = counts()
    answer = client_for(operator_okut).post(
        "/api/v1/custody/handovers",
        {
            "id": str(uuid.uuid4()),
            "from_site": str(chain.warehouse.pk),
            "to_site": str(chain.ppk.pk),
            "election": ELECTION,
            "packages": [far.code],
            "witnesses": [{"name": "Bripka Joko", "agency": "polri"}],
        },
        content_type="application/json",
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "wrong_destination"
    assert counts() == before
    assert Package.objects.get(pk=far.pk).state == "packed"


# --- 7. the PPK is told -----------------------------------------------------------------------


def test_the_ppk_is_told_of_a_bast_on_its_way_with_its_expected_arrival(
    chain: Chain, operator_okut: User
) -> None:
    expected = H5 + dt.timedelta(hours=6)
    handover = dispatch(
        chain, operator_okut, lines=[services.Line("tinta", 1)], expected_at=expected
    )
    assert handover.expected_at == expected
    told = Message.objects.filter(user=chain.ppk_martapura)
    assert told.count() == 1
    message = told.get()
    assert message.kind == "logistics.handover.dispatched"
    assert handover.number in message.title
    assert "2029-02-09 14:00" in message.body
    assert message.data["expected_at"] == expected.isoformat()
    assert not Message.objects.filter(user=operator_okut).exists()


def test_short_and_damaged_on_arrival_reach_the_reconciliation(
    chain: Chain, operator_okut: User, bawaslu_okut: User, kpu_oku: User, client_for: Any
) -> None:
    from django.urls import reverse

    handover = dispatch(chain, operator_okut, lines=[services.Line("tinta", 10)])
    services.receive_handover(
        actor=chain.ppk_martapura,
        handover_id=handover.pk,
        lines=[services.ReceivedLine("tinta", 8, 3)],
        now=H5 + dt.timedelta(hours=4),
    )
    address = reverse("logistics:reconciliation")
    html = (
        client_for(bawaslu_okut)
        .get(address, {"election": ELECTION, "region": "16.08"})
        .content.decode()
    )
    table = html.split('id="recon-arrivals"')[1].split("</table>")[0]
    row = table.split(f'<tr data-site="{chain.ppk.code}" data-item="tinta">')[1].split("</tr>")[0]
    figures = [cell.split(">")[-1] for cell in row.split("</td>")[2:4]]
    assert figures == ["2", "3"]
    assert "2 open" in row or "2 terbuka" in row
    assert table.count("<tr data-site=") == 1
    # Another kabupaten's reader never sees it.
    other = client_for(kpu_oku).get(address, {"election": ELECTION, "region": "16.01"})
    assert 'id="recon-arrivals"' not in other.content.decode()

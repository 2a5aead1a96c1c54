"""The chain of custody through its services: receipt, packing and seals, the BAST handover,
scans, discrepancies with their alarms, and the ledger replay that proves the stored state."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.ledger.models import Entry
from siaga.logistics import replay, services
from siaga.logistics.models import (
    Discrepancy,
    Handover,
    HandoverPackage,
    Package,
    Scan,
    Seal,
    Stock,
)
from siaga.sites.models import Site
from tests.logistics.chain import ELECTION, H5, Chain, chain_fixture, pack

__all__ = ["chain_fixture"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db


def stock(chain: Chain, code: str, site: Site | None = None) -> tuple[int, int]:
    row = Stock.objects.filter(site=site or chain.warehouse, item__code=code).first()
    return (row.quantity, row.damaged) if row else (0, 0)


def dispatch(
    chain: Chain, actor: User, codes: list[str], to: Site | None = None, **kw: object
) -> Handover:
    return services.dispatch_handover(
        actor=actor,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=(to or chain.ppk).pk,
        election=ELECTION,
        packages=codes,
        witnesses=[
            services.Witness("Bripka Joko", "polri"),
            services.Witness("Dewi Pengawas", "bawaslu"),
        ],
        now=H5,
        **kw,  # type: ignore[arg-type]
    ).obj


def scan(handover: Handover, action: str, code: str, package: str = "") -> services.ScanIn:
    return services.ScanIn(uuid.uuid4(), action, code, handover.pk, H5, package)


def assert_replay_matches() -> None:
    _state, differences = replay.rebuild(check=True)
    assert differences == []


# --- receipt ---------------------------------------------------------------------------------


def test_a_short_delivery_is_stocked_as_counted_and_stays_open_as_a_discrepancy(
    chain: Chain, operator_okut: User
) -> None:
    receipt = services.record_receipt(
        actor=operator_okut,
        id=uuid.uuid4(),
        site_id=chain.warehouse.pk,
        election=ELECTION,
        vendor="PT Percetakan Sriwijaya",
        delivery_note="SJ-0002",
        lines=[services.ReceiptLineIn("ss-dpd", 1000, 960, damaged=12)],
        now=H5,
    ).obj
    assert stock(chain, "ss-dpd") == (2000 + 960 - 12, 12)
    found = {(d.kind, d.quantity, d.state) for d in Discrepancy.objects.filter(receipt=receipt)}
    assert found == {("shortfall", 40, "open"), ("damaged", 12, "open")}
    shortfall = Discrepancy.objects.get(receipt=receipt, kind="shortfall")
    assert shortfall.alarm is not None and shortfall.alarm.active
    assert_replay_matches()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (services.ReceiptLineIn("ss-dpd", -1, 0), "quantity_invalid"),
        (services.ReceiptLineIn("ss-dpd", 10, 2.5), "quantity_invalid"),  # type: ignore[arg-type]
        (services.ReceiptLineIn("ss-dpd", 10, "10"), "quantity_invalid"),  # type: ignore[arg-type]
        (services.ReceiptLineIn("ss-dpd", 10, 5, damaged=6), "damaged_exceeds_count"),
        (services.ReceiptLineIn("bendera", 10, 10), "item_unknown"),
    ],
)
def test_bad_receipt_lines_are_refused_and_change_nothing(
    chain: Chain, operator_okut: User, line: services.ReceiptLineIn, code: str
) -> None:
    before = (Stock.objects.count(), Entry.objects.count(), stock(chain, "ss-dpd"))
    with pytest.raises(InvalidInput) as refused:
        services.record_receipt(
            actor=operator_okut,
            id=uuid.uuid4(),
            site_id=chain.warehouse.pk,
            election=ELECTION,
            vendor="PT X",
            delivery_note="SJ-9",
            lines=[line],
        )
    assert refused.value.code == code
    assert (Stock.objects.count(), Entry.objects.count(), stock(chain, "ss-dpd")) == before


# --- packing and seals -----------------------------------------------------------------------


def test_packing_takes_the_contents_from_stock_and_applies_each_seal(
    chain: Chain, operator_okut: User
) -> None:
    package = pack(chain, operator_okut, chain.tps1, ["SG-0001", "SG-0002"]).obj
    assert package.code == "TPS-16.08.01.1008-001-01"
    assert package.location_id == chain.warehouse.pk and package.state == "packed"
    assert stock(chain, "ss-ppwp") == (2000 - 255, 0)
    assert stock(chain, "tinta") == (20 - 2, 0)
    assert sorted(Seal.objects.filter(package=package).values_list("serial", "state")) == [
        ("SG-0001", "applied"),
        ("SG-0002", "applied"),
    ]
    assert_replay_matches()


def test_packing_more_than_stock_is_insufficient_stock_and_changes_nothing(
    chain: Chain, operator_okut: User
) -> None:
    before = (Package.objects.count(), Seal.objects.count(), Entry.objects.count())
    with pytest.raises(Conflict) as refused:
        pack(chain, operator_okut, chain.tps1, ["SG-0100"], ballots=2001)
    assert refused.value.code == "insufficient_stock" and refused.value.status == 409
    assert refused.value.detail == {"item": "ss-ppwp", "in_stock": 2000, "wanted": 2001}
    assert (Package.objects.count(), Seal.objects.count(), Entry.objects.count()) == before
    assert stock(chain, "ss-ppwp") == (2000, 0)


def test_a_seal_serial_can_never_be_applied_twice(chain: Chain, operator_okut: User) -> None:
    pack(chain, operator_okut, chain.tps1, ["SG-0001"])
    before = (Package.objects.count(), Entry.objects.count(), stock(chain, "ss-ppwp"))
    with pytest.raises(Conflict) as refused:
        pack(chain, operator_okut, chain.tps2, ["sg-0001", "SG-0003"])
    assert refused.value.code == "seal_reused" and refused.value.status == 409
    assert refused.value.detail == {"seals": ["SG-0001"]}
    assert (Package.objects.count(), Entry.objects.count(), stock(chain, "ss-ppwp")) == before
    assert not Seal.objects.filter(serial="SG-0003").exists()


@pytest.mark.parametrize("quantity", [0, -5, 1.5, True])
def test_packing_quantities_are_whole_and_positive(
    chain: Chain, operator_okut: User, quantity: object
) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.pack_package(
            actor=operator_okut,
            id=uuid.uuid4(),
            site_id=chain.warehouse.pk,
            destination_id=chain.tps1.pk,
            election=ELECTION,
            kind="box",
            lines=[services.Line("ss-ppwp", quantity)],  # type: ignore[arg-type]
            seals=["SG-0009"],
        )
    assert refused.value.code == "quantity_invalid" and refused.value.status == 422
    assert Package.objects.count() == 0 and not Seal.objects.exists()


def test_packing_is_idempotent_on_the_client_id(chain: Chain, operator_okut: User) -> None:
    package_id = uuid.uuid4()
    for _ in range(2):
        services.pack_package(
            actor=operator_okut,
            id=package_id,
            site_id=chain.warehouse.pk,
            destination_id=chain.tps1.pk,
            election=ELECTION,
            kind="box",
            lines=[services.Line("ss-ppwp", 255)],
            seals=["SG-0001"],
        )
    assert Package.objects.count() == 1
    assert stock(chain, "ss-ppwp") == (2000 - 255, 0)


# --- handover --------------------------------------------------------------------------------


def test_a_package_sent_the_wrong_way_is_refused_and_nothing_is_written(
    chain: Chain, operator_okut: User
) -> None:
    far = pack(chain, operator_okut, chain.tps_far, ["SG-0001"]).obj
    near = pack(chain, operator_okut, chain.tps1, ["SG-0002"]).obj
    entries = Entry.objects.count()
    with pytest.raises(Conflict) as refused:
        dispatch(chain, operator_okut, [near.code, far.code])
    assert refused.value.code == "wrong_destination" and refused.value.status == 409
    assert refused.value.detail["packages"] == [far.code]
    assert far.code in str(refused.value.message)
    # Nothing moved, no BAST, no discrepancy, no alarm, no ledger entry.
    assert not Handover.objects.exists()
    assert set(Package.objects.values_list("state", flat=True)) == {"packed"}
    assert not Discrepancy.objects.exists()
    assert not Alarm.objects.exists()
    assert Entry.objects.count() == entries
    assert_replay_matches()


def test_dispatch_then_receipt_scan_by_scan_closes_the_bast(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001", "SG-0002"]).obj
    two = pack(chain, operator_okut, chain.tps2, ["SG-0003"]).obj
    handover = dispatch(chain, operator_okut, [one.code, two.code])
    assert handover.state == "dispatched" and handover.dispatch_seq is not None
    assert set(Package.objects.values_list("state", "location")) == {("in_transit", None)}
    receiver = chain.ppk_martapura
    outcomes = services.ingest_scans(
        actor=receiver,
        scans=[
            scan(handover, "receive", one.qr_payload),
            scan(handover, "receive", two.code.lower()),
            scan(handover, "seal", "SG-0001"),
            scan(handover, "seal", "SG-0002"),
            scan(handover, "seal", "SG-0003"),
        ],
        now=H5 + dt.timedelta(hours=3),
    )
    assert [(o.status, o.error, o.package) for o in outcomes] == [
        (201, "", one.code),
        (201, "", two.code),
        (201, "", one.code),
        (201, "", one.code),
        (201, "", two.code),
    ]
    done = services.receive_handover(actor=receiver, handover_id=handover.pk)
    assert done.state == "received" and done.receiver == receiver
    assert set(Package.objects.values_list("state", "location")) == {("received", chain.ppk.pk)}
    assert set(Seal.objects.values_list("state", flat=True)) == {"verified"}
    assert not Discrepancy.objects.exists()
    assert_replay_matches()


def test_a_seal_that_is_not_the_bast_s_raises_a_discrepancy_and_a_reseal_settles_it(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    handover = dispatch(chain, operator_okut, [one.code])
    receiver = chain.ppk_martapura
    outcomes = services.ingest_scans(
        actor=receiver,
        scans=[
            scan(handover, "receive", one.code),
            scan(handover, "seal", "XX-7777", package=one.code),
        ],
    )
    assert [(o.status, o.error) for o in outcomes] == [(201, ""), (409, "seal_mismatch")]
    mismatch = Discrepancy.objects.get(kind="seal_mismatch")
    assert mismatch.package == one and mismatch.site == chain.ppk
    assert mismatch.detail == {"seen": "XX-7777"}
    assert Alarm.objects.get(pk=str(mismatch.alarm_id)).active
    done = services.receive_handover(actor=receiver, handover_id=handover.pk)
    assert done.state == "discrepant"
    # Opened in front of witnesses, counted, sealed anew.
    services.reseal_package(
        actor=receiver,
        id=uuid.uuid4(),
        package=one.code,
        new_seals=["SG-0500"],
        counted=[services.Line("ss-ppwp", 255), services.Line("tinta", 2)],
        witnesses=[services.Witness("Bripka Joko", "polri")],
    )
    assert dict(Seal.objects.values_list("serial", "state")) == {
        "SG-0001": "broken",
        "SG-0500": "applied",
    }
    services.resolve_discrepancy(
        actor=receiver, discrepancy_id=mismatch.pk, resolution="Dibuka, dihitung, disegel ulang."
    )
    mismatch.refresh_from_db()
    assert mismatch.state == "resolved"
    assert not Alarm.objects.get(pk=str(mismatch.alarm_id)).active
    assert_replay_matches()


def test_a_reseal_is_idempotent_by_its_id_and_never_reapplies_a_serial(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    reseal_id = uuid.uuid4()

    def reseal(serials: list[str], id: uuid.UUID) -> None:
        services.reseal_package(
            actor=operator_okut,
            id=id,
            package=one.code,
            new_seals=serials,
            counted=[services.Line("ss-ppwp", 255)],
            witnesses=[services.Witness("Bripka Joko", "polri")],
        )

    # Its own seal, still on it, is a serial used before: not a replay of anything.
    with pytest.raises(Conflict) as refused:
        reseal(["SG-0001"], reseal_id)
    assert refused.value.code == "seal_reused"
    assert dict(Seal.objects.values_list("serial", "state")) == {"SG-0001": "applied"}
    assert not Entry.objects.filter(kind="logistics.package.resealed").exists()
    for _ in range(2):
        reseal(["SG-0600", "SG-0601"], reseal_id)
    assert dict(Seal.objects.values_list("serial", "state")) == {
        "SG-0001": "broken",
        "SG-0600": "applied",
        "SG-0601": "applied",
    }
    assert Entry.objects.filter(kind="logistics.package.resealed").count() == 1
    # The same serials under a new id: used before.
    with pytest.raises(Conflict) as again:
        reseal(["SG-0600", "SG-0601"], uuid.uuid4())
    assert again.value.code == "seal_reused"
    assert Entry.objects.filter(kind="logistics.package.resealed").count() == 1
    assert_replay_matches()


def test_a_reseal_after_the_bast_was_signed_leaves_the_bast_as_it_was(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    handover = dispatch(chain, operator_okut, [one.code])
    receiver = chain.ppk_martapura
    services.ingest_scans(
        actor=receiver,
        scans=[scan(handover, "receive", one.code), scan(handover, "seal", "SG-0001")],
    )
    assert services.receive_handover(actor=receiver, handover_id=handover.pk).state == "received"
    services.reseal_package(
        actor=receiver,
        id=uuid.uuid4(),
        package=one.code,
        new_seals=["SG-0700"],
        counted=[],
        witnesses=[services.Witness("Dewi Pengawas", "bawaslu")],
    )
    part = HandoverPackage.objects.get(handover=handover, package=one)
    assert (part.seals, part.seals_seen) == (["SG-0001"], ["SG-0001"])
    assert dict(Seal.objects.values_list("serial", "state")) == {
        "SG-0001": "broken",
        "SG-0700": "applied",
    }
    assert_replay_matches()


def test_a_package_not_scanned_is_missing_when_the_bast_is_signed(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    two = pack(chain, operator_okut, chain.tps2, ["SG-0002"]).obj
    handover = dispatch(chain, operator_okut, [one.code, two.code])
    receiver = chain.ppk_martapura
    services.ingest_scans(
        actor=receiver,
        scans=[scan(handover, "receive", one.code), scan(handover, "seal", "SG-0001")],
    )
    done = services.receive_handover(actor=receiver, handover_id=handover.pk)
    assert done.state == "discrepant"
    assert list(Discrepancy.objects.values_list("kind", "package__code")) == [
        ("missing_package", two.code)
    ]
    two.refresh_from_db()
    assert two.state == "in_transit" and two.location is None
    assert_replay_matches()


def test_a_batch_goes_on_past_unknown_codes_and_sent_twice_records_nothing_twice(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    handover = dispatch(chain, operator_okut, [one.code])
    batch = [
        scan(handover, "receive", "TPS-NOPE-99"),
        scan(handover, "receive", one.code),
        scan(handover, "seal", "SG-0001"),
        services.ScanIn(uuid.uuid4(), "teleport", one.code, handover.pk),
    ]
    first = services.ingest_scans(actor=chain.ppk_martapura, scans=batch)
    assert [(o.status, o.error) for o in first] == [
        (404, "package_unknown"),
        (201, ""),
        (201, ""),
        (422, "scan_invalid"),
    ]
    counts = (Scan.objects.count(), Entry.objects.count(), Discrepancy.objects.count())
    assert counts[0] == 3
    again = services.ingest_scans(actor=chain.ppk_martapura, scans=batch)
    assert [(o.status, o.error) for o in again] == [
        (404, "package_unknown"),
        (200, ""),
        (200, ""),
        (422, "scan_invalid"),
    ]
    assert (Scan.objects.count(), Entry.objects.count(), Discrepancy.objects.count()) == counts
    assert_replay_matches()


def test_a_package_bound_elsewhere_scanned_at_the_ppk_is_a_wrong_destination(
    chain: Chain, operator_okut: User, kpu_oku: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    far = pack(chain, operator_okut, chain.tps_far, ["SG-0002"]).obj
    handover = dispatch(chain, operator_okut, [one.code])
    outcomes = services.ingest_scans(
        actor=chain.ppk_martapura, scans=[scan(handover, "receive", far.code)]
    )
    assert [(o.status, o.error) for o in outcomes] == [(409, "wrong_destination")]
    wrong = Discrepancy.objects.get()
    assert (wrong.kind, wrong.package, wrong.site) == ("wrong_destination", far, chain.ppk)
    assert Alarm.objects.get(pk=str(wrong.alarm_id)).active


def test_someone_outside_the_destination_s_scope_cannot_receive(
    chain: Chain, operator_okut: User, kpu_oku: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    handover = dispatch(chain, operator_okut, [one.code])
    before = (Scan.objects.count(), Entry.objects.count())
    outcomes = services.ingest_scans(actor=kpu_oku, scans=[scan(handover, "receive", one.code)])
    assert [(o.status, o.error) for o in outcomes] == [(403, "handover_out_of_scope")]
    with pytest.raises(PermissionDenied) as refused:
        services.receive_handover(actor=kpu_oku, handover_id=handover.pk)
    assert refused.value.code == "handover_out_of_scope"
    handover.refresh_from_db()
    assert handover.state == "dispatched" and handover.receiver is None
    assert (Scan.objects.count(), Entry.objects.count()) == before
    one.refresh_from_db()
    assert one.state == "in_transit"


def test_loose_items_leave_stock_and_arrive_counted(chain: Chain, operator_okut: User) -> None:
    handover = dispatch(chain, operator_okut, [], lines=[services.Line("ss-dpr", 1000)])
    assert stock(chain, "ss-dpr") == (1000, 0)
    with pytest.raises(Conflict) as refused:
        dispatch(chain, operator_okut, [], lines=[services.Line("ss-dpr", 1001)])
    assert refused.value.code == "insufficient_stock"
    done = services.receive_handover(
        actor=chain.ppk_martapura, handover_id=handover.pk, lines=[services.Line("ss-dpr", 990)]
    )
    assert done.state == "discrepant"
    assert stock(chain, "ss-dpr", chain.ppk) == (990, 0)
    short = Discrepancy.objects.get(kind="shortfall")
    assert short.item is not None
    assert (short.quantity, short.item.code) == (10, "ss-dpr")
    assert_replay_matches()


def test_an_unknown_handover_is_not_found(chain: Chain) -> None:
    with pytest.raises(NotFound):
        services.receive_handover(actor=chain.ppk_martapura, handover_id=uuid.uuid4())
    with pytest.raises(NotFound):
        services.receive_handover(actor=chain.ppk_martapura, handover_id="not-a-uuid")


def test_the_replay_finds_a_stock_figure_changed_behind_the_services_back(
    chain: Chain, operator_okut: User
) -> None:
    pack(chain, operator_okut, chain.tps1, ["SG-0001"])
    Stock.objects.filter(site=chain.warehouse, item__code="tinta").update(quantity=999)
    _state, differences = replay.rebuild(check=True)
    assert [(d.what, d.stored, d.replayed) for d in differences] == [("stock", [999, 0], [18, 0])]
    _state, repaired = replay.rebuild(check=False)
    assert len(repaired) == 1
    assert stock(chain, "tinta") == (18, 0)
    assert_replay_matches()


def test_a_package_received_at_its_tps_records_when_and_a_garbled_seal_is_refused_as_input(
    chain: Chain, operator_okut: User
) -> None:
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    handover = dispatch(chain, operator_okut, [one.code], to=chain.tps1)
    at = H5 + dt.timedelta(days=3)
    outcomes = services.ingest_scans(
        actor=chain.ppk_martapura,  # the KPPS side: never the giver
        scans=[
            scan(handover, "receive", one.code),
            scan(handover, "seal", "SG 0001 ??", package=one.code),
            scan(handover, "seal", "SG-0001"),
        ],
        now=at,
    )
    assert [(o.status, o.error) for o in outcomes] == [(201, ""), (422, "scan_invalid"), (201, "")]
    one.refresh_from_db()
    assert (one.state, one.location_id, one.received_at_tps) == ("received", chain.tps1.pk, H5)
    # The garbled code is neither recorded nor a discrepancy.
    assert Scan.objects.count() == 2 and not Discrepancy.objects.exists()
    assert services.receive_handover(actor=chain.ppk_martapura, handover_id=handover.pk).state == (
        "received"
    )
    assert_replay_matches()


def test_on_the_way_back_the_warehouse_serves_its_whole_kabupaten(
    chain: Chain, operator_okut: User
) -> None:
    # Dispatch and scans judge a package's way by the same rule: a warehouse serves its owning
    # unit's region, not the desa it stands in.
    one = pack(chain, operator_okut, chain.tps1, ["SG-0001"]).obj
    far = pack(chain, operator_okut, chain.tps_far, ["SG-0002"]).obj
    out = dispatch(chain, operator_okut, [one.code])
    services.ingest_scans(
        actor=chain.ppk_martapura,
        scans=[scan(out, "receive", one.code), scan(out, "seal", "SG-0001")],
    )
    services.receive_handover(actor=chain.ppk_martapura, handover_id=out.pk)
    back = services.dispatch_handover(
        actor=chain.ppk_martapura,
        id=uuid.uuid4(),
        from_site_id=chain.ppk.pk,
        to_site_id=chain.warehouse.pk,
        election=ELECTION,
        packages=[one.code],
        leg="return",
        witnesses=[services.Witness("Bripka Joko", "polri")],
        now=H5 + dt.timedelta(days=6),
    ).obj
    outcomes = services.ingest_scans(
        actor=operator_okut,
        scans=[scan(back, "receive", far.code), scan(back, "receive", one.code)],
    )
    assert [(o.status, o.error) for o in outcomes] == [(409, "not_on_handover"), (201, "")]
    assert list(Discrepancy.objects.values_list("kind", "package__code")) == [
        ("extra_package", far.code)
    ]
    one.refresh_from_db()
    assert (one.state, one.location_id) == ("received", chain.warehouse.pk)
    assert_replay_matches()

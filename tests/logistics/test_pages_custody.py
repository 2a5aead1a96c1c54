"""The custody pages: the handover list and one handover, the receiver's scanning page and the
BAST it signs, one package's history, the discrepancies and their resolution — each scoped to
the reader (another kabupaten's operator gets a 404), each change refused to whoever may not
make it, with nothing changed."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, User
from siaga.accounts.services import add_membership
from siaga.ledger.models import Entry
from siaga.logistics import services
from siaga.logistics.models import Discrepancy, Handover, Package, Stock
from tests.logistics.chain import ELECTION, H5, Chain, chain_fixture, pack

__all__ = ["chain_fixture"]  # the fixture, imported to be used here


pytestmark = pytest.mark.django_db


def dispatch(
    chain: Chain,
    actor: User,
    codes: list[str],
    *,
    lines: list[services.Line] | None = None,
) -> Handover:
    return services.dispatch_handover(
        actor=actor,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=chain.ppk.pk,
        election=ELECTION,
        packages=codes,
        lines=lines or [],
        witnesses=[
            services.Witness("Bripka Joko", "polri"),
            services.Witness("Dewi Pengawas", "bawaslu"),
        ],
        place="Gudang KPU OKU Timur",
        vehicle_plate="bg 1234 xy",
        now=H5,
    ).obj


@pytest.fixture(name="english")
def english_fixture(client_for: Any, settings: Any) -> Callable[[User | None], Client]:
    """``english(user)``: a client signed in as ``user`` who chose English in the footer, so
    that the assertions read the source strings, whatever the catalogue says."""

    def make(user: User | None) -> Client:
        client: Client = client_for(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


@pytest.fixture(name="sent")
def sent_fixture(chain: Chain, operator_okut: User) -> Handover:
    """Two packages for TPS 1 (three seals) on their way to PPK Martapura."""
    one = pack(chain, operator_okut, chain.tps1, ["SL-0001", "SL-0002"], code="PKG-A1").obj
    two = pack(chain, operator_okut, chain.tps1, ["SL-0003"], code="PKG-A2").obj
    return dispatch(chain, operator_okut, [one.code, two.code])


def scan(handover: Handover, action: str, code: str, package: str = "") -> services.ScanIn:
    return services.ScanIn(uuid.uuid4(), action, code, handover.pk, H5, package)


def url(name: str, *args: Any) -> str:
    return reverse(f"logistics:{name}", args=args)


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- the handover list ----------------------------------------------------------------------


def test_the_handover_list_shows_the_handovers_of_my_sites_with_their_progress(
    sent: Handover, operator_okut: User, english: Any
) -> None:
    page = english(operator_okut).get(url("custody-handovers"))
    assert page.status_code == 200
    body = text_of(page)
    assert sent.number in body
    assert url("custody-handover", sent.pk) in body
    assert "Gudang PPK Martapura" in body
    assert "0/2 received" in body
    assert 'data-state="dispatched"' in body


def test_the_handover_list_filters_by_state_direction_and_number(
    sent: Handover, chain: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    listed = url("custody-handovers")

    def shows(**query: str) -> bool:
        page = client.get(listed, query)
        assert page.status_code == 200
        return sent.number in page.content.decode()

    assert shows(state="dispatched")
    assert not shows(state="received")
    assert shows(site=str(chain.ppk.pk), direction="in")
    assert not shows(site=str(chain.ppk.pk), direction="out")
    assert shows(site=str(chain.warehouse.pk), direction="out")
    assert shows(q=sent.number[-8:].lower())
    assert not shows(q="BAST-19990101")


def test_the_handover_list_answers_htmx_with_the_rows_only(
    sent: Handover, operator_okut: User, english: Any
) -> None:
    page = english(operator_okut).get(url("custody-handovers"), headers={"HX-Request": "true"})
    assert page.status_code == 200
    body = page.content.decode()
    assert sent.number in body
    assert "<html" not in body


def test_another_kabupaten_sees_no_handover_and_cannot_name_my_site(
    sent: Handover, chain: Chain, kpu_oku: User, english: Any
) -> None:
    client = english(kpu_oku)
    page = client.get(url("custody-handovers"))
    assert page.status_code == 200
    assert sent.number not in page.content.decode()
    assert client.get(url("custody-handovers"), {"site": str(chain.ppk.pk)}).status_code == 404


def test_a_handover_is_seen_from_its_giving_site_too(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    """PPK Buay Madang's operator sees the return handover from its TPS up to the kabupaten
    warehouse (in Martapura, outside their kecamatan) by its giving site."""
    ppk_unit = AgencyUnit.objects.create(
        agency=Agency.objects.get(kind=AgencyKind.KPU), region_id="16.08.02", name="PPK BM"
    )
    buay_madang = User.objects.create(username="ppk.buaymadang")
    add_membership(actor=None, user=buay_madang, unit=ppk_unit, role=Role.KPU_OPERATOR)
    back = Handover.objects.create(
        number="BAST-RETURN-1",
        election=chain.election,
        leg="return",
        from_site=chain.tps_far,
        to_site=chain.warehouse,
        state="dispatched",
        giver=operator_okut,
        dispatched_at=H5 + dt.timedelta(days=6),
    )
    assert not Handover.objects.for_user(buay_madang, "view").filter(pk=back.pk).exists()
    client = english(buay_madang)
    assert "BAST-RETURN-1" in client.get(url("custody-handovers")).content.decode()
    assert client.get(url("custody-handover", back.pk)).status_code == 200


# --- one handover ---------------------------------------------------------------------------


def test_a_handover_shows_its_packages_seals_papers_and_ledger_entry(
    sent: Handover, chain: Chain, english: Any
) -> None:
    page = english(chain.ppk_martapura).get(url("custody-handover", sent.pk))
    assert page.status_code == 200
    body = text_of(page)
    for shown in ("PKG-A1", "PKG-A2", "SL-0001", "SL-0002", "SL-0003", "Bripka Joko", "BG 1234 XY"):
        assert shown in body
    assert "0 of 2 received · 0 of 3 seals verified" in body
    assert f'href="{url("custody-bast-pdf", sent.pk)}"' in body
    assert url("custody-labels-pdf") + f"?handover={sent.pk}" in body
    assert f'href="{reverse("ledger:entry", args=[sent.dispatch_seq])}"' in body
    assert f'href="{url("custody-receive", sent.pk)}"' in body  # the receiver may receive
    assert "09-02-2029 08:00 WIB" in body


def test_a_reader_who_may_not_sign_gets_no_receive_button(
    sent: Handover, bawaslu_okut: User, english: Any
) -> None:
    page = english(bawaslu_okut).get(url("custody-handover", sent.pk))
    assert page.status_code == 200
    assert url("custody-receive", sent.pk) not in page.content.decode()


@pytest.mark.parametrize("name", ["custody-handover", "custody-receive", "custody-bast-pdf"])
def test_another_kabupaten_gets_404_for_a_handover(
    sent: Handover, kpu_oku: User, english: Any, name: str
) -> None:
    assert english(kpu_oku).get(url(name, sent.pk)).status_code == 404


def test_an_unknown_handover_is_404(chain: Chain, operator_okut: User, english: Any) -> None:
    assert english(operator_okut).get(url("custody-handover", uuid.uuid4())).status_code == 404


# --- receiving ------------------------------------------------------------------------------


def test_the_receive_page_carries_what_the_phone_needs_to_scan(
    sent: Handover, chain: Chain, english: Any
) -> None:
    receiver = chain.ppk_martapura
    services.ingest_scans(actor=receiver, scans=[scan(sent, "receive", "PKG-A1")])
    page = english(receiver).get(url("custody-receive", sent.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-scans-url="/api/v1/custody/scans"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert "logistics/receive.js" in body
    expected = json.loads(
        re.search(r'<script id="receive-expected" type="application/json">(.*?)</script>', body)[1]  # type: ignore[index]
    )
    assert expected == {
        "handover": str(sent.pk),
        "packages": {"PKG-A1": ["SL-0001", "SL-0002"], "PKG-A2": ["SL-0003"]},
        "received": ["PKG-A1"],
        "seen": [],
    }
    assert f'action="{url("custody-sign", sent.pk)}"' in body
    assert 'id="scan-history"' in body  # the scan already recorded is listed


def test_the_receive_page_speaks_the_default_language_too(
    sent: Handover, chain: Chain, client_for: Any
) -> None:
    page = client_for(chain.ppk_martapura).get(url("custody-receive", sent.pk))
    assert page.status_code == 200
    assert '<html lang="id">' in page.content.decode()


def test_a_reader_who_may_not_sign_gets_the_receive_page_refused(
    sent: Handover, bawaslu_okut: User, english: Any
) -> None:
    page = english(bawaslu_okut).get(url("custody-receive", sent.pk))
    assert page.status_code == 403
    body = page.content.decode()
    assert 'id="receive-denied"' in body
    assert "receive.js" not in body


def test_signing_the_bast_after_scanning_everything_receives_it_complete(
    sent: Handover, chain: Chain, english: Any
) -> None:
    receiver = chain.ppk_martapura
    services.ingest_scans(
        actor=receiver,
        scans=[
            scan(sent, "receive", "PKG-A1"),
            scan(sent, "seal", "SL-0001"),
            scan(sent, "seal", "SL-0002"),
            scan(sent, "receive", "PKG-A2"),
            scan(sent, "seal", "SL-0003"),
        ],
    )
    client = english(receiver)
    signed = client.post(url("custody-sign", sent.pk), {"note": "lengkap"})
    assert signed.status_code == 302
    assert signed["Location"] == url("custody-handover", sent.pk)
    sent.refresh_from_db()
    assert (sent.state, sent.receiver_id) == ("received", receiver.pk)
    assert sent.receive_seq is not None
    assert json.loads(Entry.objects.get(seq=sent.receive_seq).payload)["note"] == "lengkap"
    after = text_of(client.get(signed["Location"]))
    assert "received complete" in after
    assert "2 of 2 received · 3 of 3 seals verified" in after


def test_signing_with_a_package_unscanned_records_it_missing(
    sent: Handover, chain: Chain, english: Any
) -> None:
    receiver = chain.ppk_martapura
    services.ingest_scans(
        actor=receiver,
        scans=[
            scan(sent, "receive", "PKG-A1"),
            scan(sent, "seal", "SL-0001"),
            scan(sent, "seal", "SL-0002"),
        ],
    )
    client = english(receiver)
    signed = client.post(url("custody-sign", sent.pk), {})
    assert signed.status_code == 302
    sent.refresh_from_db()
    assert sent.state == "discrepant"
    missing = Discrepancy.objects.get(handover=sent)
    assert (missing.kind, missing.package.code if missing.package else None) == (
        "missing_package",
        "PKG-A2",
    )
    page = text_of(client.get(signed["Location"]))
    assert "signed with discrepancies" in page
    assert "Package missing" in page


def test_loose_items_are_signed_as_counted(chain: Chain, operator_okut: User, english: Any) -> None:
    handover = dispatch(chain, operator_okut, [], lines=[services.Line("tinta", 6)])
    receiver = chain.ppk_martapura
    client = english(receiver)
    page = client.get(url("custody-receive", handover.pk))
    assert 'name="line-tinta"' in page.content.decode()
    signed = client.post(url("custody-sign", handover.pk), {"line-tinta": "5"})
    assert signed.status_code == 302
    handover.refresh_from_db()
    assert handover.state == "discrepant"
    line = handover.lines.get()
    assert (line.quantity, line.received) == (6, 5)
    assert Stock.objects.get(site=chain.ppk, item__code="tinta").quantity == 5
    shortfall = Discrepancy.objects.get(handover=handover)
    assert (shortfall.kind, shortfall.quantity) == ("shortfall", 1)


def test_a_count_that_is_not_a_number_is_shown_back_and_changes_nothing(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    handover = dispatch(chain, operator_okut, [], lines=[services.Line("tinta", 6)])
    before = Entry.objects.count()
    page = english(chain.ppk_martapura).post(
        url("custody-sign", handover.pk), {"line-tinta": "lima"}
    )
    assert page.status_code == 422
    body = page.content.decode()
    assert 'id="receive-error"' in body
    assert "Quantities are whole numbers, zero or more." in body
    assert 'value="lima"' in body
    handover.refresh_from_db()
    assert handover.state == "dispatched"
    assert Entry.objects.count() == before


def test_a_reader_who_may_not_sign_changes_nothing(
    sent: Handover, bawaslu_okut: User, english: Any
) -> None:
    before = Entry.objects.count()
    page = english(bawaslu_okut).post(url("custody-sign", sent.pk), {})
    assert page.status_code == 403
    assert "You may not receive this handover." in page.content.decode()
    sent.refresh_from_db()
    assert (sent.state, sent.receiver_id, Entry.objects.count()) == ("dispatched", None, before)


def test_another_kabupaten_cannot_sign_and_learns_nothing(
    sent: Handover, kpu_oku: User, english: Any
) -> None:
    before = Entry.objects.count()
    assert english(kpu_oku).post(url("custody-sign", sent.pk), {}).status_code == 404
    sent.refresh_from_db()
    assert (sent.state, Entry.objects.count()) == ("dispatched", before)


def test_signing_needs_a_signed_in_user(sent: Handover, english: Any) -> None:
    page = english(None).post(url("custody-sign", sent.pk), {})
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))
    sent.refresh_from_db()
    assert sent.state == "dispatched"


def test_a_signed_bast_offers_no_scanner(sent: Handover, chain: Chain, english: Any) -> None:
    services.receive_handover(actor=chain.ppk_martapura, handover_id=sent.pk)
    page = english(chain.ppk_martapura).get(url("custody-receive", sent.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="receive-closed"' in body
    assert "receive.js" not in body


# --- one package ----------------------------------------------------------------------------


def test_a_package_shows_contents_seals_and_its_custody_in_time_order(
    sent: Handover, chain: Chain, english: Any
) -> None:
    receiver = chain.ppk_martapura
    services.ingest_scans(
        actor=receiver,
        scans=[
            scan(sent, "receive", "PKG-A1"),
            scan(sent, "seal", "SL-0001"),
            scan(sent, "seal", "SL-9999", package="PKG-A1"),  # not the seal it left with
        ],
    )
    page = english(receiver).get(url("custody-package", "pkg-a1"))  # typed in lower case
    assert page.status_code == 200
    body = text_of(page)
    assert 'id="package-code">PKG-A1<' in body
    assert "Gudang PPK Martapura" in body  # where it is now
    assert "TPS-16.08.01.1008-001" in body
    assert "255" in body and "2" in body
    assert 'data-seal="SL-0001"' in body and 'data-seal="SL-0002"' in body
    history = body[body.index('id="package-history"') :]
    order = [history.index(s) for s in ("Packed and sealed", "Handed over", "SL-0001 — recorded")]
    assert order == sorted(order)
    assert "SL-9999 — seal mismatch (409)" in history
    assert "Seal mismatch" in body  # the discrepancy
    assert url("custody-handover", sent.pk) in body


def test_another_kabupaten_gets_404_for_a_package(
    sent: Handover, kpu_oku: User, english: Any
) -> None:
    assert english(kpu_oku).get(url("custody-package", "PKG-A1")).status_code == 404


def test_an_unknown_package_is_404(chain: Chain, operator_okut: User, english: Any) -> None:
    assert english(operator_okut).get(url("custody-package", "NOPE-1")).status_code == 404


# --- discrepancies --------------------------------------------------------------------------


@pytest.fixture(name="mismatch")
def mismatch_fixture(sent: Handover, chain: Chain) -> Discrepancy:
    services.ingest_scans(
        actor=chain.ppk_martapura,
        scans=[
            scan(sent, "receive", "PKG-A1"),
            scan(sent, "seal", "SL-9999", package="PKG-A1"),
        ],
    )
    return Discrepancy.objects.get(handover=sent, kind="seal_mismatch")


def test_the_discrepancy_list_shows_open_ones_with_a_resolve_form(
    mismatch: Discrepancy, chain: Chain, english: Any
) -> None:
    page = english(chain.ppk_martapura).get(url("custody-discrepancies"))
    assert page.status_code == 200
    body = text_of(page)
    assert f'data-discrepancy="{mismatch.pk}"' in body
    assert "seal seen: SL-9999" in body
    assert f'action="{url("custody-resolve", mismatch.pk)}' in body
    resolved_only = english(chain.ppk_martapura).get(
        url("custody-discrepancies"), {"state": "resolved"}
    )
    assert f'data-discrepancy="{mismatch.pk}"' not in resolved_only.content.decode()


def test_a_reader_who_may_not_resolve_sees_no_form(
    mismatch: Discrepancy, bawaslu_okut: User, english: Any
) -> None:
    body = english(bawaslu_okut).get(url("custody-discrepancies")).content.decode()
    assert f'data-discrepancy="{mismatch.pk}"' in body
    assert url("custody-resolve", mismatch.pk) not in body


def test_resolving_a_discrepancy_closes_it(
    mismatch: Discrepancy, chain: Chain, english: Any
) -> None:
    client = english(chain.ppk_martapura)
    done = client.post(
        url("custody-resolve", mismatch.pk),
        {"resolution": "Dibuka di depan saksi, isi lengkap, segel baru SL-0100."},
    )
    assert done.status_code == 302
    assert done["Location"] == url("custody-discrepancies")
    mismatch.refresh_from_db()
    assert mismatch.state == "resolved"
    assert mismatch.resolution == "Dibuka di depan saksi, isi lengkap, segel baru SL-0100."
    assert mismatch.resolved_by_id == chain.ppk_martapura.pk
    assert "Discrepancy resolved: Seal mismatch." in text_of(client.get(done["Location"]))


def test_an_empty_resolution_is_shown_as_an_error_on_the_form(
    mismatch: Discrepancy, chain: Chain, english: Any
) -> None:
    before = Entry.objects.count()
    page = english(chain.ppk_martapura).post(
        url("custody-resolve", mismatch.pk), {"resolution": "   "}
    )
    assert page.status_code == 422
    body = page.content.decode()
    assert f'id="resolution-error-{mismatch.pk}">Say how it was resolved.<' in body
    assert "is-invalid" in body
    mismatch.refresh_from_db()
    assert mismatch.state == "open"
    assert Entry.objects.count() == before


def test_a_reader_who_may_not_resolve_changes_nothing(
    mismatch: Discrepancy, bawaslu_okut: User, english: Any
) -> None:
    page = english(bawaslu_okut).post(url("custody-resolve", mismatch.pk), {"resolution": "sudah"})
    assert page.status_code == 403
    mismatch.refresh_from_db()
    assert (mismatch.state, mismatch.resolution) == ("open", "")


def test_another_kabupaten_cannot_resolve_or_see_a_discrepancy(
    mismatch: Discrepancy, kpu_oku: User, english: Any
) -> None:
    client = english(kpu_oku)
    listed = client.get(url("custody-discrepancies"))
    assert listed.status_code == 200
    assert str(mismatch.pk) not in listed.content.decode()
    refused = client.post(url("custody-resolve", mismatch.pk), {"resolution": "sudah"})
    assert refused.status_code == 404
    mismatch.refresh_from_db()
    assert mismatch.state == "open"


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["handover", "destination", "site"])
def test_labels_print_for_a_handover_a_tps_or_a_site(
    sent: Handover, chain: Chain, operator_okut: User, english: Any, by: str
) -> None:
    value = {"handover": sent.pk, "destination": chain.tps1.pk, "site": chain.warehouse.pk}[by]
    page = english(operator_okut).get(url("custody-labels-pdf"), {by: str(value)})
    assert page.status_code == 200
    assert page["Content-Type"] == "application/pdf"
    assert page.content.startswith(b"%PDF")


@pytest.mark.parametrize("by", ["handover", "destination", "site"])
def test_labels_of_another_kabupaten_are_404(
    sent: Handover, chain: Chain, kpu_oku: User, english: Any, by: str
) -> None:
    value = {"handover": sent.pk, "destination": chain.tps1.pk, "site": chain.warehouse.pk}[by]
    assert english(kpu_oku).get(url("custody-labels-pdf"), {by: str(value)}).status_code == 404


def test_labels_need_something_to_label(operator_okut: User, english: Any) -> None:
    client = english(operator_okut)
    assert client.get(url("custody-labels-pdf")).status_code == 404
    assert client.get(url("custody-labels-pdf"), {"handover": "x"}).status_code == 404


def test_packages_are_found_by_their_printed_payload_too(
    sent: Handover, operator_okut: User, english: Any
) -> None:
    assert Package.objects.get(code="PKG-A1").qr_payload == "SIAGA-PKG:PKG-A1"
    page = english(operator_okut).get(url("custody-package", "SIAGA-PKG:PKG-A1"))
    assert page.status_code == 200

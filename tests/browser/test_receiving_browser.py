"""PPK Martapura receives a BAST on a phone (390×844, Debian's chromium driven by Playwright):
one bottle of ink arrived broken and two are missing; the receiver records both on the form,
signs, and the BAST page, its discrepancies and the PPK's stock say so."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from siaga.accounts.models import User
from siaga.logistics import services
from siaga.logistics.models import Discrepancy, HandoverLine, Stock
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.logistics.chain import ELECTION, Chain, chain_fixture

__all__ = ["chain_fixture"]

PHONE = {"width": 390, "height": 844}


@pytest.mark.django_db(transaction=True)
def test_ppk_receives_a_bast_with_one_damaged_and_two_missing_items(
    browser: Any, live_server: Any, chain: Chain, operator_okut: User, tmp_path: Path
) -> None:
    receiver = chain.ppk_martapura
    receiver.set_password(PASSWORD)
    receiver.save()
    now = timezone.now()
    # The demo's calendar is 2029's; a live dispatch is "now", inside its window.
    handover = services.dispatch_handover(
        actor=operator_okut,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=chain.ppk.pk,
        election=ELECTION,
        lines=[services.Line("tinta", 10)],
        witnesses=[services.Witness("Bripka Joko", "polri"), services.Witness("Dewi", "bawaslu")],
        expected_at=now + dt.timedelta(hours=3),
        now=now,
    ).obj
    base = live_server.url
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = sign_in(context.new_page(), base, "ppk.martapura")
    # The dashboard says a BAST is on its way, with its expected arrival.
    incoming = page.wait_for_selector(f'#home-incoming [data-handover="{handover.pk}"]')
    assert handover.number in incoming.inner_text()
    page.screenshot(path=str(tmp_path / "1-dashboard.png"), full_page=True)
    page.click(f'#home-incoming [data-handover="{handover.pk}"] a')
    page.wait_for_url(f"{base}/logistik/custody/handovers/{handover.pk}/")
    page.goto(f"{base}/logistik/custody/handovers/{handover.pk}/receive/")
    page.fill("#line-tinta", "8")
    page.fill("#damaged-tinta", "1")
    page.fill("#sign-note", "Satu botol pecah, dua tidak ada di kardus.")
    page.screenshot(path=str(tmp_path / "2-receive.png"), full_page=True)
    page.click("#sign-submit")
    page.wait_for_url(f"{base}/logistik/custody/handovers/{handover.pk}/")
    page.screenshot(path=str(tmp_path / "3-signed.png"), full_page=True)
    body = page.inner_text("body")
    assert "Satu botol pecah, dua tidak ada di kardus." in body
    line = HandoverLine.objects.get(handover=handover)
    assert (line.quantity, line.received, line.damaged) == (10, 8, 1)
    assert sorted(
        Discrepancy.objects.filter(handover=handover).values_list("kind", "quantity")
    ) == [
        ("damaged", 1),
        ("shortfall", 2),
    ]
    stock = Stock.objects.get(site=chain.ppk, item__code="tinta")
    assert (stock.quantity, stock.damaged) == (7, 1)
    print(f"screenshots in {tmp_path}")

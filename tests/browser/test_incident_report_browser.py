"""In a real browser on a phone-sized screen (Debian's chromium, driven by Playwright): a guard
reports a leak with a photo in a few taps and sees the server's acknowledgement; the
commissioner acknowledges on his phone; a report whose answer was lost is sent again — after a
reload too — and kept once; a refused report is not sent again."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from siaga.accounts.models import User
from siaga.incidents.choices import State
from siaga.incidents.models import Incident, IncidentPhoto
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.browser.conftest import sign_in
from tests.conftest import World

PHONE = {"width": 390, "height": 844}
WAREHOUSE_GATE = {"latitude": -4.3176, "longitude": 104.3539}
SENT = "#report-status li[data-state=sent]"


def on_phone(browser: Any, base: str, username: str) -> Any:
    """A signed-in page on a 390×844 phone that shares its location."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation=WAREHOUSE_GATE,
        permissions=["geolocation"],
    )
    page = context.new_page()
    return sign_in(page, base, username)


def dripping_water(path: Path) -> Path:
    """A small JPEG, as a phone camera would send."""
    image = Image.new("RGB", (640, 480), (120, 100, 80))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 360, 640, 480), fill=(150, 110, 60))  # a pallet
    for x in range(80, 600, 90):
        draw.ellipse((x, 120 + x % 70, x + 18, 150 + x % 70), fill=(60, 120, 220))  # drops
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    path.write_bytes(out.getvalue())
    return path


def fill_leak_report(page: Any, base: str, photo: Path | None = None) -> None:
    page.goto(f"{base}/insiden/lapor/")
    page.wait_for_function("document.querySelector('input[name=latitude]').value !== ''")
    page.click("label[for=category-banjir]")
    if photo is not None:
        page.set_input_files("#report-photo", str(photo))
        page.wait_for_selector("#photo-preview:not(.d-none)")
    page.fill("#report-description", "Atap bocor, air menetes di palet Gudang B")


@pytest.mark.django_db(transaction=True)
def test_guard_reports_a_leak_with_a_photo_and_the_commissioner_acknowledges(
    browser: Any,
    live_server: Any,
    world: World,
    guard_okut: User,
    commissioner_okut: User,
    tmp_path: Path,
) -> None:
    base = live_server.url
    guard = on_phone(browser, base, "jaga.okut")
    fill_leak_report(guard, base, dripping_water(tmp_path / "bocor.jpg"))
    # The category chose the severity it usually has; the only site in scope is chosen.
    assert guard.is_checked("#severity-2")
    assert guard.is_checked(f'input[name=site][value="{world.warehouse_okut.pk}"]')
    guard.screenshot(path=str(tmp_path / "1-report-filled.png"), full_page=True)
    guard.screenshot(path=str(tmp_path / "1-report-first-screen.png"))
    # The Send button stays under the thumb without scrolling.
    send = guard.locator("#report-send").bounding_box()
    assert send is not None and send["y"] + send["height"] <= PHONE["height"]
    guard.click("#report-send")
    line = guard.wait_for_selector(SENT, timeout=20000)
    guard.wait_for_timeout(300)  # the buttons' colour transitions end
    guard.screenshot(path=str(tmp_path / "2-report-sent.png"))

    incident = Incident.objects.get(reporter=guard_okut)
    sent_word = guard.get_attribute("#report-form", "data-msg-sent")
    assert line.inner_text().startswith(f"{sent_word} {incident.reference}")
    assert line.query_selector("a").get_attribute("href") == f"/insiden/{incident.pk}/"
    assert (incident.category, incident.severity, incident.state) == ("banjir", 2, State.REPORTED)
    assert incident.site == world.warehouse_okut
    assert (incident.latitude, incident.longitude) == (Decimal("-4.317600"), Decimal("104.353900"))
    assert incident.description == "Atap bocor, air menetes di palet Gudang B"
    assert IncidentPhoto.objects.filter(incident=incident).count() == 1
    # Ready for the next report: nothing chosen, a new id.
    assert not guard.is_checked("#category-banjir")
    assert guard.input_value("input[name=id]") != str(incident.pk)

    commissioner = on_phone(browser, base, "komisioner.okut")
    commissioner.goto(f"{base}/insiden/{incident.pk}/")
    commissioner.locator(".incident-photo").scroll_into_view_if_needed()  # loaded lazily
    commissioner.wait_for_function("document.querySelector('.incident-photo').naturalWidth > 0")
    assert commissioner.eval_on_selector(".incident-photo", "img => img.naturalWidth") == 640
    commissioner.screenshot(path=str(tmp_path / "3-detail-before.png"), full_page=True)
    commissioner.click("#acknowledge")
    commissioner.wait_for_selector("[data-state=acknowledged]")
    commissioner.screenshot(path=str(tmp_path / "4-detail-acknowledged.png"), full_page=True)
    incident.refresh_from_db()
    assert incident.state == State.ACKNOWLEDGED
    assert incident.acknowledged_by == commissioner_okut
    # The list with its map, on the same phone: the marker leads to the incident.
    commissioner.goto(f"{base}/insiden/")
    marker = commissioner.locator(f'.incident-map a[href="/insiden/{incident.pk}/"]')
    assert marker.count() == 1
    commissioner.screenshot(path=str(tmp_path / "5-list.png"), full_page=True)
    print(f"screenshots in {tmp_path}")


@pytest.mark.django_db(transaction=True)
def test_a_report_whose_answer_was_lost_is_sent_again_after_a_reload_and_kept_once(
    browser: Any, live_server: Any, world: World, guard_okut: User, tmp_path: Path
) -> None:
    base = live_server.url
    page = on_phone(browser, base, "jaga.okut")
    calls: list[str] = []

    def flaky(route: Any) -> None:
        calls.append(route.request.method)
        if len(calls) == 1:
            route.fetch()  # the server stores it...
            route.abort("connectionreset")  # ...but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/incidents", flaky)
    fill_leak_report(page, base)
    page.click("#report-send")
    page.wait_for_selector("#report-status li[data-state=retry]")
    page.screenshot(path=str(tmp_path / "retry.png"))
    assert Incident.objects.filter(reporter=guard_okut).count() == 1
    # The guard closes the page and opens it again: the kept report goes out on load.
    page.reload()
    page.wait_for_selector(SENT, timeout=20000)
    assert len(calls) >= 2
    assert Incident.objects.filter(reporter=guard_okut).count() == 1
    # Nothing is left waiting on the phone.
    page.reload()
    page.wait_for_timeout(500)
    assert page.query_selector_all("#report-status li") == []


@pytest.mark.django_db(transaction=True)
def test_a_report_is_retried_with_backoff_until_the_server_answers(
    browser: Any, live_server: Any, world: World, guard_okut: User
) -> None:
    # A TPS far from the gate: two sites in scope, so none is chosen by the page itself...
    Site.objects.create(
        code="TPS-16.08-UJI",
        name="TPS 001 Uji",
        kind=SiteKind.TPS,
        region_id="16.08.01.2006",
        owner_unit=world.warehouse_okut.owner_unit,
        latitude=Decimal("-4.100000"),
        longitude=Decimal("104.100000"),
    )
    base = live_server.url
    page = on_phone(browser, base, "jaga.okut")
    calls: list[str] = []

    def down_twice(route: Any) -> None:
        calls.append(route.request.method)
        if len(calls) <= 2:
            route.fulfill(status=503, body="Service Unavailable")
        else:
            route.continue_()

    page.route("**/api/v1/incidents", down_twice)
    fill_leak_report(page, base)
    # ...but the phone stands at the warehouse gate, so the warehouse is chosen.
    assert page.is_checked(f'input[name=site][value="{world.warehouse_okut.pk}"]')
    page.click("#report-send")
    page.wait_for_selector(SENT, timeout=30000)
    assert len(calls) == 3
    assert Incident.objects.get(reporter=guard_okut).site == world.warehouse_okut


@pytest.mark.django_db(transaction=True)
def test_a_refused_report_says_why_and_is_not_sent_again(
    browser: Any, live_server: Any, world: World, guard_okut: User
) -> None:
    base = live_server.url
    page = on_phone(browser, base, "jaga.okut")
    calls: list[str] = []

    def refuse(route: Any) -> None:
        calls.append(route.request.method)
        route.fulfill(
            status=422,
            content_type="application/json",
            body='{"code": "incident_category_unknown", "message": "Kategori tidak dikenal.",'
            ' "detail": null}',
        )

    page.route("**/api/v1/incidents", refuse)
    fill_leak_report(page, base)
    page.click("#report-send")
    line = page.wait_for_selector("#report-status li[data-state=refused]")
    assert "Kategori tidak dikenal." in line.inner_text()
    page.wait_for_timeout(1500)  # longer than the first pause before a resend
    assert len(calls) == 1
    page.reload()
    page.wait_for_timeout(500)
    assert len(calls) == 1
    assert not Incident.objects.filter(reporter=guard_okut).exists()


@pytest.mark.django_db(transaction=True)
def test_a_photo_that_is_no_image_is_refused_and_the_report_still_sent(
    browser: Any, live_server: Any, world: World, guard_okut: User, tmp_path: Path
) -> None:
    base = live_server.url
    page = on_phone(browser, base, "jaga.okut")
    # What a phone may hand over as "a photo": a PDF renamed .jpg.
    fake = tmp_path / "bocor.jpg"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    page.goto(f"{base}/insiden/lapor/")
    page.wait_for_function("document.querySelector('input[name=latitude]').value !== ''")
    page.click("label[for=category-banjir]")
    page.set_input_files("#report-photo", str(fake))
    page.fill("#report-description", "Atap bocor, air menetes di palet Gudang B")
    page.click("#report-send")
    line = page.wait_for_selector(SENT, timeout=20000)
    page.screenshot(path=str(tmp_path / "photo-refused.png"), full_page=True)
    refused_word = page.get_attribute("#report-form", "data-msg-photo-refused")
    assert refused_word and refused_word in line.inner_text()
    incident = Incident.objects.get(reporter=guard_okut)
    assert incident.description == "Atap bocor, air menetes di palet Gudang B"
    assert not IncidentPhoto.objects.filter(incident=incident).exists()
    # It is not sent again: one incident, whatever the page does next.
    page.wait_for_timeout(1500)
    assert Incident.objects.filter(reporter=guard_okut).count() == 1

"""At the gate, in a real browser on a phone-sized screen (Debian's chromium, driven by
Playwright): the guard registers a walk-in with a photo, the host approves on her own phone,
the guard's waiting page sees the approval arrive by itself, lets the guest in, finds them on
the inside board and checks them out there; after hours, a walk-in known by NIK waits for the
host and then for a commissioner, the guard's page following each decision by itself; a
worker's badge is read by the camera, and typed."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw

from siaga.access import services
from siaga.access.choices import GateEventKind, VisitState
from siaga.access.models import GateEvent, Presence, SiteRules, Visit, Visitor
from siaga.accounts.models import User
from siaga.regions.timezones import WIB
from tests.access.conftest import NIK_DRIVER, NIK_WORKER, open_all_day
from tests.browser.conftest import sign_in
from tests.conftest import World

PHONE = {"width": 390, "height": 844}


def on_phone(browser: Any, base: str, username: str) -> Any:
    """A signed-in page on a 390×844 phone."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    return sign_in(page, base, username)


def portrait(path: Path) -> Path:
    """A small JPEG of a face, as the gate phone's camera would send."""
    image = Image.new("RGB", (480, 640), (210, 220, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((140, 120, 340, 360), fill=(190, 140, 110))  # the face
    draw.rectangle((100, 380, 380, 640), fill=(40, 70, 120))  # the shirt
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    path.write_bytes(out.getvalue())
    return path


def within_the_screen(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.django_db(transaction=True)
def test_walk_in_is_approved_by_the_host_and_goes_in_and_out(
    browser: Any,
    live_server: Any,
    world: World,
    guard_okut: User,
    operator_okut: User,
    tmp_path: Path,
) -> None:
    site = world.warehouse_okut
    gate_zone = site.zones.get(name="Gerbang utama")
    open_all_day(site)  # whatever the hour the suite runs at
    base = live_server.url

    # The guard opens the gate page: the only site is chosen, two big buttons.
    guard = on_phone(browser, base, "jaga.okut")
    guard.goto(f"{base}/gerbang/")
    guard.screenshot(path=str(tmp_path / "0-gate-home.png"), full_page=True)
    assert within_the_screen(guard, "#walk-in-button")
    guard.click("#walk-in-button")

    # The walk-in form, typed with the thumbs; a slip in the NIK first (day 32).
    guard.wait_for_selector("#walk-in-form")
    guard.fill("#walk-in-nik", "1608013205850001")
    guard.fill("#walk-in-name", "Andi Sopir")
    guard.fill("#walk-in-organisation", "PT Percetakan Sumatera")
    guard.fill("#walk-in-phone", "0812 3456 7890")
    guard.set_input_files("#walk-in-photo", str(portrait(tmp_path / "andi.jpg")))
    guard.wait_for_selector("#walk-in-photo-preview:not(.d-none)")
    guard.select_option("#walk-in-purpose", "delivery")
    guard.fill("#walk-in-purpose-text", "Kiriman surat suara DPR")
    guard.click(f"label:has-text('{gate_zone.name}')")
    guard.select_option("#walk-in-host", str(operator_okut.pk))
    guard.fill("#walk-in-vehicle-plate", "BG 1234 AB")
    guard.click("#walk-in-submit")
    guard.wait_for_selector("[data-error-for=nik]")
    guard.screenshot(path=str(tmp_path / "1-walk-in-nik-refused.png"), full_page=True)
    assert not Visit.objects.exists()
    # Everything typed is kept but the photo, which a browser never refills.
    assert guard.input_value("#walk-in-name") == "Andi Sopir"
    assert guard.input_value("#walk-in-host") == str(operator_okut.pk)
    assert guard.is_checked(f"input[name=zones][value='{gate_zone.pk}']")
    guard.fill("#walk-in-nik", NIK_DRIVER)
    guard.set_input_files("#walk-in-photo", str(tmp_path / "andi.jpg"))
    guard.wait_for_selector("#walk-in-photo-preview:not(.d-none)")
    guard.screenshot(path=str(tmp_path / "1-walk-in.png"), full_page=True)
    guard.screenshot(path=str(tmp_path / "1-walk-in-screen.png"))
    assert no_sideways_scroll(guard)
    # The send button stays under the thumb wherever the guard has scrolled to.
    assert within_the_screen(guard, "#walk-in-submit")
    guard.click("#walk-in-submit")
    guard.wait_for_url(f"{base}/gerbang/kunjungan/*/")

    visit = Visit.objects.get()
    visitor = Visitor.objects.by_nik(NIK_DRIVER).get()
    assert (visit.visitor, visit.state, visit.walk_in, visit.host) == (
        visitor,
        VisitState.REQUESTED,
        True,
        operator_okut,
    )
    assert visitor.photo_content_type == "image/jpeg"
    assert guard.url == f"{base}/gerbang/kunjungan/{visit.pk}/"
    guard.wait_for_selector("#waiting-for-decision")
    guard.wait_for_load_state("load")  # the photo too
    assert guard.eval_on_selector("img.visitor-photo", "img => img.naturalWidth") > 0
    guard.screenshot(path=str(tmp_path / "2-waiting.png"), full_page=True)
    # The form is there to fill in while he waits; its button is off.
    assert guard.is_disabled("#check-in-submit")
    guard.fill("#item-bag", "1")

    # The host approves on her phone.
    host = on_phone(browser, base, "kpu.okut")
    host.goto(f"{base}/gerbang/persetujuan/")
    card = f'article[data-visit="{visit.pk}"]'
    host.wait_for_selector(card)
    host.screenshot(path=str(tmp_path / "3-approvals.png"), full_page=True)
    assert no_sideways_scroll(host)
    host.click(f"{card} [data-action=approve]")
    host.wait_for_selector("#approvals-empty")
    host.screenshot(path=str(tmp_path / "4-approved-by-host.png"), full_page=True)
    visit.refresh_from_db()
    assert (visit.state, visit.decided_by) == (VisitState.APPROVED, operator_okut)

    # The guard's page saw it by itself (it asks every 5 s), kept what he typed, and lets in.
    guard.wait_for_selector("#check-in-submit:not([disabled])", timeout=20000)
    assert guard.get_attribute(".visit-state", "data-state") == "approved"
    assert guard.query_selector("#waiting-for-decision") is None
    assert guard.input_value("#item-bag") == "1"
    guard.click(f"label[for='zone-{gate_zone.pk}']")
    guard.fill("#item-phone", "1")
    guard.screenshot(path=str(tmp_path / "5-check-in.png"), full_page=True)
    assert no_sideways_scroll(guard)
    guard.click("#check-in-submit")
    guard.wait_for_selector("#inside-now")
    guard.screenshot(path=str(tmp_path / "6-inside.png"), full_page=True)
    event = GateEvent.objects.get(kind=GateEventKind.CHECK_IN)
    assert (event.visit, event.zone, event.guard) == (visit, gate_zone, guard_okut)
    assert event.items == [
        {"kind": "bag", "count": 1, "label": ""},
        {"kind": "phone", "count": 1, "label": ""},
    ]
    assert event.vehicle_plate == "BG 1234 AB"

    # On the inside board, in the gate zone; checked out from there.
    guard.goto(f"{base}/gerbang/{site.pk}/di-dalam/")
    person = f'li.person[data-visitor="{visitor.pk}"]'
    guard.wait_for_selector(f'section[data-zone="{gate_zone.pk}"] {person}')
    assert guard.inner_text("#inside-total") == "1"
    guard.screenshot(path=str(tmp_path / "7-board.png"), full_page=True)
    assert no_sideways_scroll(guard)
    guard.click(f"{person} button.check-out")
    guard.wait_for_selector("#inside-total:text-is('0')")
    guard.screenshot(path=str(tmp_path / "8-checked-out.png"), full_page=True)
    assert not Presence.objects.exists()
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_OUT
    assert GateEvent.objects.filter(kind=GateEventKind.CHECK_OUT, visit=visit).count() == 1
    print(f"screenshots in {tmp_path}")


# The phone's camera and its barcode reader, stood in for: the camera films a plain picture,
# the reader "sees" whatever badge the test holds up (window.heldUp).
FAKE_CAMERA = """
window.heldUp = null;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
  async detect() { return window.heldUp ? [{ rawValue: window.heldUp, format: "qr_code" }] : []; }
};
if (!navigator.mediaDevices) Object.defineProperty(navigator, "mediaDevices", { value: {} });
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 320;
  canvas.height = 240;
  const paint = canvas.getContext("2d");
  paint.fillStyle = "#345";
  paint.fillRect(0, 0, 320, 240);
  return canvas.captureStream(5);
};
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_is_scanned_in_with_the_camera_and_typed_out(
    browser: Any,
    live_server: Any,
    world: World,
    guard_okut: User,
    commissioner_okut: User,
    tmp_path: Path,
) -> None:
    site = world.warehouse_okut
    gate_zone = site.zones.get(name="Gerbang utama")
    open_all_day(site)
    now = timezone.now()
    issued = services.issue_pass(
        actor=commissioner_okut,
        person=services.PersonData(nik=NIK_WORKER, name="Budi Pekerja"),
        site_id=site.pk,
        zone_ids=[gate_zone.pk, world.hall_a_okut.pk],
        kind="worker",
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=5),
    ).obj
    base = live_server.url
    guard = on_phone(browser, base, "jaga.okut")
    guard.add_init_script(FAKE_CAMERA)
    guard.goto(f"{base}/gerbang/pindai/?site={site.pk}")
    guard.wait_for_selector("#camera-start:not(.d-none)")
    guard.click("#camera-start")
    guard.wait_for_selector("#camera-video:not(.d-none)")
    guard.screenshot(path=str(tmp_path / "1-scanner.png"), full_page=True)
    # Someone else's QR code is not a badge; the reader keeps looking.
    guard.evaluate("window.heldUp = 'https://example.org/'")
    guard.wait_for_selector("#camera-status:has-text('SIAGA')")
    guard.evaluate(f"window.heldUp = '{issued.qr_payload}'")
    guard.wait_for_selector("#holder-name")
    assert guard.inner_text("#holder-name") == "Budi Pekerja"
    assert guard.query_selector("#pass-refusal") is None
    guard.screenshot(path=str(tmp_path / "2-holder.png"), full_page=True)
    assert no_sideways_scroll(guard)
    assert guard.is_checked("#scan-zone-grounds")
    guard.click("#scan-in")
    guard.wait_for_selector("#badge-input")
    guard.screenshot(path=str(tmp_path / "3-let-in.png"), full_page=True)
    presence = Presence.objects.get()
    assert (presence.visitor, presence.zone, presence.standing_pass) == (
        issued.visitor,
        None,
        issued,
    )

    # The same badge, its code typed by hand this time: out.
    guard.fill("#badge-input", issued.badge_code)
    guard.click("#badge-submit")
    guard.wait_for_selector("#scan-out-form")
    guard.screenshot(path=str(tmp_path / "4-holder-inside.png"), full_page=True)
    guard.click("#scan-out")
    guard.wait_for_selector("#badge-input")
    assert not Presence.objects.exists()
    assert list(GateEvent.objects.order_by("at").values_list("kind", flat=True)) == [
        GateEventKind.CHECK_IN,
        GateEventKind.CHECK_OUT,
    ]


def after_hours_now(site: Any) -> None:
    """The site's after-hours window around the present moment, whatever the hour."""
    local = timezone.localtime(timezone.now(), WIB)
    SiteRules.objects.update_or_create(
        site=site,
        defaults={
            "after_hours_start": (local - dt.timedelta(hours=1)).time().replace(microsecond=0),
            "after_hours_end": (local + dt.timedelta(hours=3)).time().replace(microsecond=0),
        },
    )


@pytest.mark.django_db(transaction=True)
def test_after_hours_walk_in_waits_for_host_and_commissioner_then_goes_in_and_out(
    browser: Any,
    live_server: Any,
    world: World,
    guard_okut: User,
    operator_okut: User,
    commissioner_okut: User,
    tmp_path: Path,
) -> None:
    site = world.warehouse_okut
    gate_zone = site.zones.get(name="Gerbang utama")
    after_hours_now(site)
    # OKU Timur knows the driver already, from an earlier delivery.
    now = timezone.now()
    services.register_visit(
        actor=operator_okut,
        person=services.PersonData(nik=NIK_DRIVER, name="Andi Sopir", organisation="PT Cetak"),
        site_id=site.pk,
        zone_ids=[],
        purpose="delivery",
        host_id=None,
        planned_start=now - dt.timedelta(hours=6),
        planned_end=now - dt.timedelta(hours=5),
        now=now - dt.timedelta(hours=7),
    )
    base = live_server.url

    guard = on_phone(browser, base, "jaga.okut")
    guard.goto(f"{base}/gerbang/tamu-baru/")
    guard.wait_for_selector("#walk-in-form")
    # A 17th digit is kept as typed and called what it is; never cut to a wrong NIK.
    guard.fill("#walk-in-nik", NIK_DRIVER + "7")
    guard.wait_for_selector("#walk-in-known[data-code=nik_length]")
    assert guard.input_value("#walk-in-nik") == NIK_DRIVER + "7"
    # The right NIK: known here as Andi Sopir of PT Cetak, filled in for the guard to check.
    guard.fill("#walk-in-nik", NIK_DRIVER)
    guard.wait_for_selector("#walk-in-known-as")
    assert guard.inner_text("#known-name") == "Andi Sopir"
    assert guard.input_value("#walk-in-name") == "Andi Sopir"
    assert guard.input_value("#walk-in-organisation") == "PT Cetak"
    guard.select_option("#walk-in-purpose", "delivery")
    guard.click(f"label:has-text('{gate_zone.name}')")
    guard.select_option("#walk-in-host", str(operator_okut.pk))
    guard.screenshot(path=str(tmp_path / "1-known-as.png"), full_page=True)
    assert no_sideways_scroll(guard)
    guard.click("#walk-in-submit")
    guard.wait_for_url(f"{base}/gerbang/kunjungan/*/")
    visit = Visit.objects.get(walk_in=True)
    assert (visit.state, visit.visitor_name, visit.after_hours) == (
        VisitState.REQUESTED,
        "Andi Sopir",
        True,
    )
    missing = "#missing-approvals li"
    guard.wait_for_selector(f"{missing}[data-missing=after_hours]")
    assert guard.query_selector(f"{missing}[data-missing=decision]") is not None
    assert guard.is_disabled("#check-in-submit")
    # He types the note while both wait; it outlives each update of his page.
    guard.fill("#check-in-note", "Malam, truk boks")
    guard.screenshot(path=str(tmp_path / "2-waiting-for-both.png"), full_page=True)

    # The host approves; her page says a commissioner's approval is still missing.
    host = on_phone(browser, base, "kpu.okut")
    host.goto(f"{base}/gerbang/persetujuan/")
    card = f'article[data-visit="{visit.pk}"]'
    host.wait_for_selector(f"{card} [data-missing=after_hours]")
    host.click(f"{card} [data-action=approve]")
    host.wait_for_selector(".alert:has-text('after-hours'), .alert:has-text('jam kerja')")
    host.screenshot(path=str(tmp_path / "3-host-approved.png"), full_page=True)

    # The guard's page updates by itself: the host's decision is in, the commissioner's not.
    guard.wait_for_selector(f"{missing}[data-missing=decision]", state="detached", timeout=20000)
    assert guard.query_selector(f"{missing}[data-missing=after_hours]") is not None
    assert guard.is_disabled("#check-in-submit")
    assert guard.input_value("#check-in-note") == "Malam, truk boks"
    assert guard.get_attribute(".visit-state", "data-state") == "approved"

    # The commissioner approves on her phone; the guard's page updates again and lets in.
    commissioner = on_phone(browser, base, "komisioner.okut")
    commissioner.goto(f"{base}/gerbang/persetujuan/")
    commissioner.wait_for_selector(f"{card} [data-missing=after_hours]")
    commissioner.screenshot(path=str(tmp_path / "4-commissioner.png"), full_page=True)
    assert no_sideways_scroll(commissioner)
    commissioner.click(f"{card} [data-action=approve]")
    commissioner.wait_for_selector(f"{card}", state="detached")
    visit.refresh_from_db()
    assert visit.after_hours_approved_by == commissioner_okut

    guard.wait_for_selector("#check-in-submit:not([disabled])", timeout=20000)
    assert guard.query_selector("#waiting-for-decision") is None
    assert guard.input_value("#check-in-note") == "Malam, truk boks"
    guard.click(f"label[for='zone-{gate_zone.pk}']")
    guard.fill("#item-bag", "1")
    guard.screenshot(path=str(tmp_path / "5-check-in.png"), full_page=True)
    guard.click("#check-in-submit")
    guard.wait_for_selector("#inside-now")
    event = GateEvent.objects.get(kind=GateEventKind.CHECK_IN)
    assert (event.visit, event.zone, event.note) == (visit, gate_zone, "Malam, truk boks")
    guard.click("#check-out")
    guard.wait_for_selector(".visit-state[data-state=checked_out]")
    guard.screenshot(path=str(tmp_path / "6-checked-out.png"), full_page=True)
    assert not Presence.objects.exists()
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_OUT
    print(f"screenshots in {tmp_path}")

"""The printed custody papers: the BAST (what left, with which seals, what arrived, who signs,
and a QR code of its ledger entry) and the sheets of package labels (a QR code of each package's
payload). The PDFs are read back with pypdf; each QR image is read module by module and compared
with the code of the payload it must carry."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
import segno
from django.urls import reverse
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from siaga.accounts.models import User
from siaga.logistics import pdf, services, views_custody
from siaga.logistics.models import Handover, Package
from tests.logistics.chain import ELECTION, H5, Chain, chain_fixture, pack
from tests.logistics.test_pages_custody import english_fixture

__all__ = ["chain_fixture", "english_fixture"]  # the fixtures, imported to be used here

pytestmark = pytest.mark.django_db


def read(body: bytes) -> PdfReader:
    assert body.startswith(b"%PDF")
    return PdfReader(io.BytesIO(body))


def text(reader: PdfReader) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def modules(image: Image.Image, qr: segno.QRCode) -> list[list[bool]]:
    """The dark and light modules of a QR image the size of ``qr``, read at each module's
    centre."""
    size = int(qr.symbol_size(scale=1, border=pdf.QR_BORDER)[0])
    grey = image.convert("L")
    step = grey.width / size

    def dark(row: int, column: int) -> bool:
        value = grey.getpixel((int((column + 0.5) * step), int((row + 0.5) * step)))
        return isinstance(value, int) and value < 128

    return [[dark(r, c) for c in range(size)] for r in range(size)]


def carries(image: Image.Image, payload: str) -> bool:
    """Does this QR image encode ``payload``? (Its modules are those of the payload's code.)"""
    qr = pdf.qr_code(payload)
    expected = [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=pdf.QR_BORDER)]
    return modules(image, qr) == expected


def qr_images(reader: PdfReader, page: int = 0) -> list[Image.Image]:
    """The page's images (in the order of their names in the PDF, not of their places)."""
    return [found.image for found in reader.pages[page].images if found.image is not None]


def payloads(images: list[Image.Image], candidates: list[str]) -> list[str]:
    """Which of ``candidates`` each image carries, in a stable order."""
    found = [p for image in images for p in candidates if carries(image, p)]
    return sorted(found)


def pack_ballots(chain: Chain, actor: User, code: str, seal: str) -> Package:
    """A small bundle of ballots for TPS 1 (the ink in stock runs out after ten packages)."""
    return services.pack_package(
        actor=actor,
        id=uuid.uuid4(),
        site_id=chain.warehouse.pk,
        destination_id=chain.tps1.pk,
        election=ELECTION,
        kind="bundle",
        lines=[services.Line("ss-dpd", 5)],
        seals=[seal],
        code=code,
        now=H5,
    ).obj


def dispatch(chain: Chain, actor: User, codes: list[str]) -> Handover:
    return services.dispatch_handover(
        actor=actor,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=chain.ppk.pk,
        election=ELECTION,
        packages=codes,
        lines=[services.Line("tinta", 4)],
        witnesses=[
            services.Witness("Bripka Joko", "polri"),
            services.Witness("Dewi Pengawas", "bawaslu", "Panwascam"),
        ],
        place="Gudang KPU OKU Timur",
        vehicle_plate="BG 1234 XY",
        now=H5,
    ).obj


@pytest.fixture(name="sent")
def sent_fixture(chain: Chain, operator_okut: User) -> Handover:
    pack(chain, operator_okut, chain.tps1, ["SL-0001", "SL-0002"], code="PKG-A1")
    pack(chain, operator_okut, chain.tps2, ["SL-0003"], code="PKG-B1")
    return dispatch(chain, operator_okut, ["PKG-A1", "PKG-B1"])


def scan(handover: Handover, action: str, code: str, package: str = "") -> services.ScanIn:
    return services.ScanIn(uuid.uuid4(), action, code, handover.pk, H5, package)


# --- QR codes -------------------------------------------------------------------------------


def test_a_qr_code_is_never_a_micro_qr_which_phones_cannot_read() -> None:
    assert not pdf.qr_code("SIAGA-PKG:A1").is_micro


def test_a_qr_image_is_read_back_as_its_payload_and_not_as_another() -> None:
    image = Image.open(io.BytesIO(pdf.qr_png("SIAGA-PKG:PKG-A1", scale=4)))
    assert carries(image, "SIAGA-PKG:PKG-A1")
    assert not carries(image, "SIAGA-PKG:PKG-A2")


def test_the_ledger_entry_address_is_the_public_url_whatever_the_host_asked(
    settings: Any,
) -> None:
    settings.PUBLIC_URL = "https://siaga.kpu-okut.example"
    assert views_custody.ledger_entry_address(41) == "https://siaga.kpu-okut.example" + reverse(
        "ledger:entry", args=[41]
    )


# --- the BAST -------------------------------------------------------------------------------


def test_the_bast_lists_packages_seals_people_and_times(
    sent: Handover, operator_okut: User, english: Any
) -> None:
    response = english(operator_okut).get(reverse("logistics:custody-bast-pdf", args=[sent.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{sent.number}.pdf"'
    words = text(read(response.content))
    for shown in (
        sent.number,
        "PKG-A1",
        "PKG-B1",
        "SL-0001",
        "SL-0002",
        "SL-0003",
        "Gudang Logistik KPU OKU Timur",
        "Gudang PPK Martapura",
        "09-02-2029 08:00 WIB",  # dispatched, on the warehouse's clock
        "Bripka Joko",
        "Dewi Pengawas",
        "Panwascam",
        "BG 1234 XY",
        "Gudang KPU OKU Timur",
        operator_okut.display_name,
        "Not received yet",
        "Signatures",
    ):
        assert shown in words, shown


def test_the_bast_qr_code_carries_the_address_of_the_dispatch_entry(
    sent: Handover, operator_okut: User, english: Any, settings: Any
) -> None:
    # Whatever Host the request named (here the test client's), the printed link is SIAGA's own.
    settings.PUBLIC_URL = "https://siaga.kpu-okut.example"
    response = english(operator_okut).get(reverse("logistics:custody-bast-pdf", args=[sent.pk]))
    reader = read(response.content)
    address = "https://siaga.kpu-okut.example" + reverse("ledger:entry", args=[sent.dispatch_seq])
    assert "testserver" not in text(reader)
    images = qr_images(reader)
    assert len(images) == 1
    assert carries(images[0], address)
    assert f"Ledger entry #{sent.dispatch_seq}" in text(reader)
    assert address in text(reader)


def test_the_bast_after_receipt_shows_the_receiver_what_was_found_and_each_discrepancy(
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
    services.receive_handover(
        actor=receiver,
        handover_id=sent.pk,
        lines=[services.Line("tinta", 3)],
        now=H5.replace(hour=14, minute=30),
    )
    response = english(receiver).get(reverse("logistics:custody-bast-pdf", args=[sent.pk]))
    words = text(read(response.content))
    assert "Sari" in words  # the receiver
    assert "09-02-2029 14:30 WIB" in words
    assert "Received with discrepancies" in words
    assert "Package missing" in words  # PKG-B1 was never scanned
    assert "Shortfall" in words  # 3 of 4 ink bottles
    assert "SL-0001, SL-0002" in words  # seals verified on PKG-A1


def test_a_long_bast_runs_over_pages_with_every_package(
    chain: Chain, operator_okut: User, english: Any
) -> None:
    codes = [
        pack_ballots(chain, operator_okut, f"PX-{n:03d}", f"SX-{n:03d}").code for n in range(60)
    ]
    handover = dispatch(chain, operator_okut, codes)
    reader = read(
        english(operator_okut)
        .get(reverse("logistics:custody-bast-pdf", args=[handover.pk]))
        .content
    )
    assert len(reader.pages) > 1
    words = text(reader)
    assert all(code in words for code in codes)
    assert all(f"SX-{n:03d}" in words for n in range(60))


# --- labels ---------------------------------------------------------------------------------


def test_a_label_sheet_holds_24_labels_and_each_qr_carries_its_package(
    chain: Chain, operator_okut: User
) -> None:
    for n in range(25):
        pack_ballots(chain, operator_okut, f"PL-{n:03d}", f"LB-{n:03d}")
    packages = list(
        Package.objects.filter(code__startswith="PL-")
        .select_related("destination__region__parent")
        .prefetch_related("lines__item", "seals")
        .order_by("code")
    )
    with translation.override("en"):
        reader = read(pdf.labels_pdf(packages, title="TPS 1"))
    assert len(reader.pages) == 2
    first, second = qr_images(reader, 0), qr_images(reader, 1)
    assert (len(first), len(second)) == (24, 1)
    wanted = [f"SIAGA-PKG:{p.code}" for p in packages]
    assert payloads(first, wanted) == wanted[:24]
    assert payloads(second, wanted) == wanted[24:]
    words = text(reader)
    for package in packages:
        assert package.code in words
    assert "TPS-16.08.01.1008-001" in words
    assert "Kelurahan Pasar Martapura" in words
    assert "Kecamatan Martapura" in words
    assert "Seals: LB-000" in words
    assert "Contents:" in words


def test_the_labels_of_a_handover_come_from_the_page(
    sent: Handover, operator_okut: User, english: Any
) -> None:
    response = english(operator_okut).get(
        reverse("logistics:custody-labels-pdf"), {"handover": str(sent.pk)}
    )
    reader = read(response.content)
    wanted = ["SIAGA-PKG:PKG-A1", "SIAGA-PKG:PKG-B1"]
    images = qr_images(reader)
    assert len(images) == 2
    assert payloads(images, wanted) == wanted
    words = text(reader)
    assert "SL-0001, SL-0002" in words and "SL-0003" in words


def test_an_empty_label_sheet_says_so(chain: Chain) -> None:
    with translation.override("en"):
        assert "No packages to label." in text(read(pdf.labels_pdf([], title="nothing")))


def test_the_bast_prints_in_the_default_language_too(
    sent: Handover, operator_okut: User, client_for: Any
) -> None:
    response = client_for(operator_okut).get(reverse("logistics:custody-bast-pdf", args=[sent.pk]))
    assert response.status_code == 200
    assert sent.number in text(read(response.content))

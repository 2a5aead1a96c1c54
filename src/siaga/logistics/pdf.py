"""Printed custody papers: a sheet of package labels (A4, 3 × 8) and the BAST.

Both are drawn with reportlab's built-in Helvetica, so nothing is fetched or installed at a
warehouse. QR codes are made by segno and placed as crisp 1-bit images: a receiver's phone reads
a label's ``SIAGA-PKG:<code>``, and anyone holding the BAST reads the address of the dispatch's
ledger entry. Times are the site's own clock (WIB, WITA or WIT)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import segno
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from siaga.logistics.choices import HandoverState, SealState
from siaga.logistics.models import Discrepancy, Handover, HandoverLine, HandoverPackage, Package
from siaga.regions.models import Region
from siaga.regions.timezones import time_zone_of, zone_abbreviation
from siaga.sites.models import Site

QR_BORDER = 4  # the quiet zone a reader needs around the code, in modules
LABEL_COLUMNS = 3
LABEL_ROWS = 8
LABELS_PER_PAGE = LABEL_COLUMNS * LABEL_ROWS
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
INK = colors.HexColor("#0b3d5c")


# ---------------------------------------------------------------------------------------------
# QR codes


def qr_code(payload: str) -> segno.QRCode:
    """Always a full-size QR code (never a Micro QR, which phone cameras do not read)."""
    return segno.make_qr(payload, error="m")


def qr_png(payload: str, *, scale: int) -> bytes:
    """The code as a 1-bit PNG, ``scale`` pixels a module, with its quiet zone."""
    out = io.BytesIO()
    qr_code(payload).save(out, kind="png", scale=scale, border=QR_BORDER)
    return out.getvalue()


def _qr_image(payload: str, *, scale: int) -> ImageReader:
    return ImageReader(io.BytesIO(qr_png(payload, scale=scale)))


# ---------------------------------------------------------------------------------------------
# Shared bits


def local(site: Site, at: dt.datetime | None) -> str:
    """ "09-02-2029 08:00 WIB": a moment as the site's clock shows it."""
    if at is None:
        return "—"
    moment = at.astimezone(time_zone_of(site.region_id))
    return f"{moment:%d-%m-%Y %H:%M} {zone_abbreviation(site.region_id)}"


def _printable(text: str) -> str:
    """The built-in Helvetica carries Windows-1252 only (Latin letters, dashes, "…"): anything
    else is shown as "?" rather than as a black box or an error."""
    return text.encode("cp1252", "replace").decode("cp1252")


def _fit(text: str, font: str, width: float, largest: float, smallest: float) -> float:
    """The largest font size from ``largest`` down to ``smallest`` at which ``text`` fits."""
    size = largest
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _contents(package: Package) -> str:
    return ", ".join(f"{line.quantity} {line.item.name}" for line in package.lines.all())


def _active_seals(package: Package) -> list[str]:
    return sorted(
        s.serial for s in package.seals.all() if s.state in (SealState.APPLIED, SealState.VERIFIED)
    )


def place_of(region: Region | None) -> tuple[str, str]:
    """The desa and kecamatan names of a TPS's region (the kecamatan is the desa's parent)."""
    if region is None:
        return "", ""
    parent = region.parent if region.level >= 4 else None
    return region.display_name, parent.display_name if parent is not None else ""


# ---------------------------------------------------------------------------------------------
# Labels


@dataclass(frozen=True)
class LabelSheet:
    """Where each label sits on an A4 page: 3 across, 8 down, edge to edge (70 × 37 mm)."""

    page_width: float = A4[0]
    page_height: float = A4[1]

    @property
    def width(self) -> float:
        return self.page_width / LABEL_COLUMNS

    @property
    def height(self) -> float:
        return self.page_height / LABEL_ROWS

    def origin(self, index: int) -> tuple[float, float]:
        """Bottom-left corner of label ``index`` (0…23) on its page, filled row by row."""
        row, column = divmod(index % LABELS_PER_PAGE, LABEL_COLUMNS)
        return column * self.width, self.page_height - (row + 1) * self.height


def _draw_label(canvas: Canvas, package: Package, x: float, y: float, sheet: LabelSheet) -> None:
    pad = 3 * mm
    inner = sheet.width - 2 * pad
    # Cutting guide.
    canvas.setStrokeColor(colors.lightgrey)
    canvas.setDash(2, 2)
    canvas.rect(x, y, sheet.width, sheet.height, stroke=1, fill=0)
    canvas.setDash()
    # The code, as large as the width allows: a person reads it when the camera cannot.
    code = _printable(package.code)
    size = _fit(code, BOLD, inner, 14, 6)
    top = y + sheet.height - pad
    canvas.setFillColor(colors.black)
    canvas.setFont(BOLD, size)
    canvas.drawString(x + pad, top - size, code)
    # The QR code on the left, the destination, contents and seals on the right.
    qr_side = sheet.height - 2 * pad - size - 1.5 * mm
    canvas.drawImage(
        _qr_image(package.qr_payload, scale=4), x + pad - 1.5 * mm, y + pad, qr_side, qr_side
    )
    text_x = x + pad + qr_side
    text_width = x + sheet.width - pad - text_x
    line_y = top - size - 2 * mm
    destination = package.destination
    desa, kecamatan = place_of(destination.region)
    lines: list[tuple[str, float, str]] = [
        (BOLD, 8, destination.name),
        (FONT, 7, destination.code),
        (FONT, 7, desa),
        (FONT, 7, kecamatan),
    ]
    contents = _contents(package)
    seals = ", ".join(_active_seals(package))
    for font, fsize, text in lines:
        if not text:
            continue
        for part in simpleSplit(_printable(text), font, fsize, text_width)[:1]:
            canvas.setFont(font, fsize)
            canvas.drawString(text_x, line_y - fsize, part)
            line_y -= fsize + 1
    for font, fsize, label, text, most in (
        (FONT, 6.5, _("Contents"), contents, 2),
        (BOLD, 7, _("Seals"), seals, 2),
    ):
        if not text:
            continue
        wrapped = simpleSplit(_printable(f"{label}: {text}"), font, fsize, text_width)
        if len(wrapped) > most:
            wrapped = [*wrapped[: most - 1], wrapped[most - 1].rstrip(",. ") + "…"]
        for part in wrapped:
            if line_y - fsize < y + pad - 1:
                return
            canvas.setFont(font, fsize)
            canvas.drawString(text_x, line_y - fsize, part)
            line_y -= fsize + 1


def labels_pdf(packages: Sequence[Package], *, title: str) -> bytes:
    """A4 sheets of labels, 24 a page, in the order given. Pass packages with
    ``destination__region__parent`` selected and ``lines__item`` and ``seals`` prefetched."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(_printable(title))
    canvas.setAuthor("SIAGA")
    sheet = LabelSheet()
    if not packages:
        canvas.setFont(FONT, 12)
        canvas.drawString(20 * mm, sheet.page_height - 30 * mm, _("No packages to label."))
    for index, package in enumerate(packages):
        if index and index % LABELS_PER_PAGE == 0:
            canvas.showPage()
        x, y = sheet.origin(index)
        _draw_label(canvas, package, x, y, sheet)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# The BAST


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=10.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.5),
        "title": ParagraphStyle(
            "title", parent=base, fontName=BOLD, fontSize=15, leading=18, textColor=INK
        ),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9.5, leading=12),
        "heading": ParagraphStyle(
            "heading",
            parent=base,
            fontName=BOLD,
            fontSize=10,
            leading=13,
            spaceBefore=8,
            spaceAfter=3,
            textColor=INK,
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "cell_bold": ParagraphStyle(
            "cell_bold", parent=base, fontName=BOLD, fontSize=7.5, leading=9
        ),
        "centre": ParagraphStyle(
            "centre", parent=base, fontSize=7.5, leading=9, alignment=TA_CENTER
        ),
    }


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(_printable(str(text))).replace("\n", "<br/>"), style)


_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e7eef3")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
)


def _site_text(site: Site) -> str:
    region = site.region
    return f"{site.name} ({site.code})\n{region.display_name}" if region else site.name


def _witness_text(witness: dict[str, str]) -> str:
    agency = witness.get("agency", "")
    position = witness.get("position", "")
    return f"{witness.get('name', '')} — {agency.upper()}" + (f", {position}" if position else "")


def _detail_labels() -> dict[str, str]:
    return {
        "seen": _("seal seen"),
        "not_verified": _("seals not verified"),
        "sent": _("sent"),
        "received": _("received"),
        "code": _("code"),
        "expected": _("on the delivery note"),
        "counted": _("counted"),
        "damaged": _("damaged"),
        "to_site_name": _("sent to"),
        "destination": _("for TPS"),
    }


# Keys kept for the machine (ids), never shown: the words beside them say the same.
_HIDDEN_DETAIL = frozenset({"to_site"})


def detail_text(discrepancy: Discrepancy) -> str:
    """A discrepancy's detail in words: "seal seen: X-999; …"; ids are left out."""
    labels = _detail_labels()
    parts: list[str] = []
    for key, value in sorted((discrepancy.detail or {}).items()):
        if key in _HIDDEN_DETAIL:
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{labels.get(key, key.replace('_', ' '))}: {shown}")
    return "; ".join(parts)


@dataclass(frozen=True)
class BastData:
    """Everything the BAST shows, read once by the caller (the view) in a few queries."""

    handover: Handover
    parts: Sequence[HandoverPackage]  # package__destination, package__lines__item prefetched
    lines: Sequence[HandoverLine]  # item selected
    discrepancies: Sequence[Discrepancy]  # package and item selected
    entry_url: str  # absolute address of the dispatch's ledger entry; "" when none


class _Signature(Flowable):
    """An empty box to sign in, with the role above and the name below."""

    def __init__(self, role: str, name: str, width: float, height: float = 26 * mm) -> None:
        super().__init__()
        self.role = _printable(role)
        self.name = _printable(name)
        self.width = width
        self.height = height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setStrokeColor(colors.grey)
        canvas.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        canvas.setFont(BOLD, 7.5)
        canvas.drawString(3, self.height - 10, self.role)
        canvas.setFont(FONT, 7.5)
        name = f"( {self.name or '.' * 40} )"
        canvas.drawCentredString(self.width / 2, 4, name[:70])


def _signatures(handover: Handover, width: float) -> Table:
    boxes: list[tuple[str, str]] = [
        (_("Handed over by"), handover.giver.display_name),
        (_("Received by"), handover.receiver.display_name if handover.receiver else ""),
    ]
    boxes += [
        (_("Witness (%(agency)s)") % {"agency": w.get("agency", "").upper()}, w.get("name", ""))
        for w in handover.witnesses
    ]
    per_row = 3
    box_width = (width - (per_row - 1) * 4 * mm) / per_row
    rows: list[list[Any]] = []
    for start in range(0, len(boxes), per_row):
        row: list[Any] = [
            _Signature(role, name, box_width) for role, name in boxes[start : start + per_row]
        ]
        row += [""] * (per_row - len(row))
        rows.append(row)
    table = Table(rows, colWidths=[box_width + 4 * mm] * per_row)
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
            ]
        )
    )
    return table


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "—"
    return _("yes") if value else _("no")


def bast_pdf(data: BastData) -> bytes:
    """The BAST of one handover: who handed what to whom, with which seals, what the receiver
    found, and where its record sits in the ledger."""
    handover = data.handover
    styles = _styles()
    out = io.BytesIO()
    margin = 15 * mm
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=_printable(f"BAST {handover.number}"),
        author="SIAGA",
    )
    width = A4[0] - 2 * margin
    printed_at = local(handover.from_site, timezone.now())
    story: list[Flowable] = []

    # Title and the QR code of the dispatch's ledger entry, side by side.
    heading = [
        _p(_("BERITA ACARA SERAH TERIMA"), styles["title"]),
        _p(_("Handover record of election logistics"), styles["subtitle"]),
        Spacer(1, 2 * mm),
        _p(_("Number: %(number)s") % {"number": handover.number}, styles["cell_bold"]),
        _p(_("Election: %(name)s") % {"name": handover.election.name}, styles["base"]),
    ]
    qr_cell: list[Flowable] = []
    if data.entry_url:
        side = 30 * mm
        qr_cell = [
            Image(io.BytesIO(qr_png(data.entry_url, scale=8)), width=side, height=side),
            _p(
                _("Ledger entry #%(seq)s") % {"seq": handover.dispatch_seq},
                styles["centre"],
            ),
        ]
    top = Table([[heading, qr_cell]], colWidths=[width - 36 * mm, 36 * mm])
    top.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "CENTER")])
    )
    story += [top, Spacer(1, 3 * mm)]

    received_text = (
        f"{handover.receiver.display_name if handover.receiver else '—'}, "
        f"{local(handover.to_site, handover.received_at)} — {handover.get_state_display()}"
        if handover.received_at
        else _("Not received yet")
    )
    facts = [
        (_("From"), _site_text(handover.from_site)),
        (_("To"), _site_text(handover.to_site)),
        (_("Leg"), handover.get_leg_display()),
        (_("Dispatched at"), local(handover.from_site, handover.dispatched_at)),
        (_("Place"), handover.place or "—"),
        (_("Vehicle plate"), handover.vehicle_plate or "—"),
        (_("Handed over by"), handover.giver.display_name),
        (
            _("Witnesses"),
            "\n".join(_witness_text(w) for w in handover.witnesses) or "—",
        ),
        (_("Received"), received_text),
        (_("Receiver's note"), handover.receive_note or "—"),
    ]
    info = Table(
        [[_p(k, styles["cell_bold"]), _p(v, styles["cell"])] for k, v in facts],
        colWidths=[35 * mm, width - 35 * mm],
    )
    info.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#e7eef3")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(info)

    # Packages.
    story.append(
        _p(
            _("Packages (%(n)d)") % {"n": len(data.parts)},
            styles["heading"],
        )
    )
    if data.parts:
        received = handover.state != HandoverState.DISPATCHED
        header = [
            _("No."),
            _("Package"),
            _("For TPS"),
            _("Contents"),
            _("Seals at dispatch"),
            _("Received"),
            _("Seals verified"),
        ]
        rows: list[list[Any]] = [[_p(h, styles["cell_bold"]) for h in header]]
        for number, part in enumerate(data.parts, start=1):
            package = part.package
            rows.append(
                [
                    _p(number, styles["cell"]),
                    _p(package.code, styles["cell_bold"]),
                    _p(f"{package.destination.name}", styles["cell"]),
                    _p(_contents(package), styles["cell"]),
                    _p(", ".join(part.seals) or "—", styles["cell"]),
                    _p(
                        _yes_no(part.received) if received or part.received else "—", styles["cell"]
                    ),
                    _p(", ".join(part.seals_seen) or "—", styles["cell"]),
                ]
            )
        table = Table(
            rows,
            colWidths=[9 * mm, 36 * mm, 30 * mm, 36 * mm, 27 * mm, 17 * mm, width - 155 * mm],
            repeatRows=1,
        )
        table.setStyle(_GRID)
        story.append(table)
    else:
        story.append(_p(_("No packages."), styles["base"]))

    # Loose items.
    if data.lines:
        story.append(_p(_("Loose items"), styles["heading"]))
        heads = (_("Item"), _("Sent"), _("Received"), _("Damaged"), _("Short"))
        rows = [[_p(h, styles["cell_bold"]) for h in heads]]
        for line in data.lines:
            rows.append(
                [
                    _p(line.item.name, styles["cell"]),
                    _p(f"{line.quantity} {line.item.unit}", styles["cell"]),
                    _p(
                        "—" if line.received is None else f"{line.received} {line.item.unit}",
                        styles["cell"],
                    ),
                    _p("—" if line.received is None else str(line.damaged), styles["cell"]),
                    _p("—" if line.received is None else str(line.short), styles["cell"]),
                ]
            )
        table = Table(
            rows, colWidths=[width - 100 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm], repeatRows=1
        )
        table.setStyle(_GRID)
        story.append(table)

    # Discrepancies.
    story.append(_p(_("Discrepancies"), styles["heading"]))
    if data.discrepancies:
        rows = [
            [
                _p(h, styles["cell_bold"])
                for h in (_("Kind"), _("Package or item"), _("Detail"), _("State"), _("Resolution"))
            ]
        ]
        for found in data.discrepancies:
            what = found.package.code if found.package else found.item.name if found.item else "—"
            if found.quantity is not None:
                what = f"{what} × {found.quantity}"
            rows.append(
                [
                    _p(found.get_kind_display(), styles["cell"]),
                    _p(what, styles["cell"]),
                    _p(detail_text(found) or "—", styles["cell"]),
                    _p(found.get_state_display(), styles["cell"]),
                    _p(found.resolution or "—", styles["cell"]),
                ]
            )
        table = Table(
            rows, colWidths=[28 * mm, 38 * mm, 48 * mm, 18 * mm, width - 132 * mm], repeatRows=1
        )
        table.setStyle(_GRID)
        story.append(table)
    else:
        story.append(_p(_("None recorded."), styles["base"]))

    # Signatures, kept on one page.
    story.append(
        KeepTogether(
            [
                _p(_("Signatures"), styles["heading"]),
                _signatures(handover, width),
            ]
        )
    )
    if data.entry_url:
        story.append(
            _p(
                _("Check this record: %(url)s") % {"url": data.entry_url},
                styles["small"],
            )
        )

    footer = _printable(f"{handover.number} · " + _("printed %(at)s by SIAGA") % {"at": printed_at})

    def on_page(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(margin, 8 * mm, footer)
        canvas.drawRightString(
            A4[0] - margin, 8 * mm, _("page %(n)d") % {"n": canvas.getPageNumber()}
        )
        canvas.restoreState()

    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()

"""Logistics and its chain of custody: what each TPS needs, what came from the vendors, what was
sorted, packed and sealed, who handed what to whom, and where everything is now.

``Stock`` (loose items per site), each ``Package``'s location and state and each ``Seal``'s
state are kept in step by the services, in the transaction that writes the ledger entry for the
change; ``siaga logistics rebuild --check`` replays the ledger and compares."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siaga.accounts.scoping import ScopedQuerySet
from siaga.core.models import UUIDModel
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    ItemCategory,
    Leg,
    NeedBasis,
    PackageKind,
    PackageState,
    SealState,
)
from siaga.regions.models import Region

# The catalogue names a ballot's colour as printed on it; pages show a swatch of it.
SWATCHES = {
    "abu-abu": "#9e9e9e",
    "kuning": "#f2c200",
    "merah": "#d32f2f",
    "biru": "#1f6fd1",
    "hijau": "#2e7d32",
}


class Election(models.Model):
    """One election's logistics: its catalogue, rules and voting day."""

    code = models.SlugField(_("code"), max_length=30, primary_key=True)
    name = models.CharField(_("name"), max_length=120)
    voting_day = models.DateField(_("voting day"))
    # When each level must hold its logistics, in days before voting day (H-n); later is late.
    ppk_due_days = models.PositiveSmallIntegerField(
        _("due at the PPK, days before voting"), default=5
    )
    pps_due_days = models.PositiveSmallIntegerField(
        _("due at the PPS, days before voting"), default=3
    )
    tps_due_days = models.PositiveSmallIntegerField(
        _("due at the TPS, days before voting"),
        default=1,
        help_text=_("Logistics not received at the TPS by then are late (1: H-1)."),
    )

    class Meta:
        verbose_name = _("election")
        verbose_name_plural = _("elections")
        ordering = ["-voting_day"]

    def __str__(self) -> str:
        return self.name

    def due_date(self, kind: str) -> dt.date:
        """The last day a site of this kind (``ppk``, ``pps``, ``tps``) may receive on."""
        days = {"ppk": self.ppk_due_days, "pps": self.pps_due_days}.get(kind, self.tps_due_days)
        return self.voting_day - dt.timedelta(days=days)


class ItemType(models.Model):
    """One kind of thing in the catalogue: a ballot kind, the box, the booth, ink, seals…"""

    election = models.ForeignKey(
        Election, on_delete=models.PROTECT, related_name="items", verbose_name=_("election")
    )
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=15, choices=ItemCategory.choices)
    colour = models.CharField(_("colour"), max_length=30, blank=True)
    unit = models.CharField(pgettext_lazy("of measure", "unit"), max_length=20, default="buah")
    position = models.PositiveSmallIntegerField(pgettext_lazy("in a list", "position"), default=0)

    class Meta:
        verbose_name = _("item type")
        verbose_name_plural = _("item types")
        ordering = ["election", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["election", "code"], name="item_code_per_election")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def swatch(self) -> str:
        """A CSS colour for the colour the catalogue names (``kuning``), or "" for none known."""
        return SWATCHES.get(self.colour.strip().lower(), "")


class NeedRule(models.Model):
    """How many of an item one TPS (or one electoral district) needs. Rules are data: the next
    election edits them, not the code."""

    item = models.ForeignKey(
        ItemType, on_delete=models.CASCADE, related_name="rules", verbose_name=_("item")
    )
    basis = models.CharField(_("basis"), max_length=15, choices=NeedBasis.choices)
    quantity = models.PositiveIntegerField(
        _("quantity"), help_text=_("Per voter, per TPS or per district, as the basis says.")
    )
    reserve_percent = models.DecimalField(
        _("reserve %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Per voter: this share of the TPS's voters on top, rounded up."),
    )
    district_level = models.PositiveSmallIntegerField(
        _("district level"),
        default=2,
        help_text=_("Per district: the region level that stands for the electoral district."),
    )
    excluded_regions = models.JSONField(
        _("not needed in"),
        default=list,
        blank=True,
        help_text=_("Region codes where this item is not used (DKI Jakarta: no DPRD Kab/Kota)."),
    )

    class Meta:
        verbose_name = _("need rule")
        verbose_name_plural = _("need rules")
        ordering = ["item__position", "basis"]

    def __str__(self) -> str:
        return f"{self.item}: {self.get_basis_display()} × {self.quantity}"

    def clean(self) -> None:
        """A rule that could not be applied is refused where it is typed (the admin's form):
        a reserve of 0 to 100 %, a district level 1 to 4, and known region codes."""
        problems: dict[str, Any] = {}
        if self.reserve_percent is not None and self.reserve_percent > 100:
            problems["reserve_percent"] = _("A reserve is at most 100 %.")
        if not 1 <= (self.district_level or 0) <= 4:
            problems["district_level"] = _("A district is a region of level 1 to 4.")
        codes = self.excluded_regions
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            problems["excluded_regions"] = _('A list of region codes, such as ["31"].')
        else:
            known = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
            unknown = sorted(set(codes) - known)
            if unknown:
                problems["excluded_regions"] = _("No such region: %(codes)s.") % {
                    "codes": ", ".join(unknown)
                }
        if problems:
            raise ValidationError(problems)

    def excludes(self, region_code: str) -> bool:
        return any(
            region_code == c or region_code.startswith(c + ".") for c in self.excluded_regions
        )


class Stock(models.Model):
    """Loose items at a site (packed ones are counted in their packages): good and damaged."""

    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="stock", verbose_name=_("site")
    )
    item = models.ForeignKey(
        ItemType, on_delete=models.PROTECT, related_name="stock", verbose_name=_("item")
    )
    quantity = models.IntegerField(_("good"), default=0)
    damaged = models.IntegerField(_("damaged"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        ordering = ["site_id", "item__position"]
        constraints = [
            models.UniqueConstraint(fields=["site", "item"], name="stock_one_per_site_item"),
            models.CheckConstraint(
                condition=Q(quantity__gte=0) & Q(damaged__gte=0), name="stock_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} — {self.item}: {self.quantity}"


class Receipt(UUIDModel):
    """A vendor's delivery counted in at a warehouse (delivery note, expected against counted)."""

    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="receipts", verbose_name=_("site")
    )
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="+")
    vendor = models.CharField(_("vendor"), max_length=150)
    delivery_note = models.CharField(_("delivery note"), max_length=60)
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=15, blank=True)
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("vendor receipt")
        verbose_name_plural = _("vendor receipts")
        ordering = ["-received_at"]
        constraints = [
            # A vendor numbers its delivery notes once: a second receipt under the same note
            # is a copy or a fraud, whatever the case it was typed in.
            models.UniqueConstraint(
                Lower("vendor"), Lower("delivery_note"), name="receipt_note_once_per_vendor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.delivery_note}"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(ItemType, on_delete=models.PROTECT, related_name="+")
    expected = models.PositiveIntegerField(_("on the delivery note"))
    counted = models.PositiveIntegerField(_("counted"))
    damaged = models.PositiveIntegerField(_("damaged"), default=0)

    class Meta:
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")
        constraints = [
            models.UniqueConstraint(fields=["receipt", "item"], name="receipt_line_one_per_item"),
            models.CheckConstraint(
                condition=Q(damaged__lte=models.F("counted")), name="receipt_damaged_within_count"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item}: {self.counted}/{self.expected}"

    @property
    def good(self) -> int:
        return self.counted - self.damaged

    @property
    def shortfall(self) -> int:
        return max(self.expected - self.counted, 0)


class SortingSession(UUIDModel):
    """A sortir-lipat session: ballots sorted and folded, good and damaged counted per kind."""

    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="sortings", verbose_name=_("site")
    )
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"))
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    workers = models.PositiveIntegerField(_("workers"), default=0)
    note = models.CharField(_("note"), max_length=500, blank=True)
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("sorting session")
        verbose_name_plural = _("sorting sessions")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.site} {self.started_at:%Y-%m-%d}"


class SortingLine(models.Model):
    session = models.ForeignKey(SortingSession, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(ItemType, on_delete=models.PROTECT, related_name="+")
    good = models.PositiveIntegerField(_("good"))
    damaged = models.PositiveIntegerField(_("damaged"))
    reasons = models.JSONField(_("damage reasons"), default=dict, blank=True)
    replacement_requested = models.PositiveIntegerField(_("replacement requested"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "item"], name="sorting_line_one_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.item}: {self.good} + {self.damaged}"


class Destruction(UUIDModel):
    """Damaged and excess ballots destroyed, in front of Bawaslu and police witnesses."""

    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="destructions", verbose_name=_("site")
    )
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"))
    method = models.CharField(_("method"), max_length=100)
    witnesses = models.JSONField(_("witnesses"), default=list)
    lines = models.JSONField(_("destroyed"), default=list, help_text=_("[item, damaged, excess]"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("destruction")
        verbose_name_plural = _("destructions")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.site} {self.at:%Y-%m-%d}"


class Package(UUIDModel):
    """A box or bundle packed for one TPS, labelled with a QR code and closed with seals."""

    # Few indexes: every receipt scan moves a package (location and state change, so the row's
    # every index takes a new entry). The code is unique by a constraint (the field's own
    # unique=True would add a second, pattern index for LIKE that nothing asks for); the
    # election has a handful of values, and the last handover and the packer are only ever
    # read from the package: none of those is worth an index.
    code = models.CharField(_("code"), max_length=40)
    election = models.ForeignKey(
        Election, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PackageKind.choices)
    label = models.CharField(_("label"), max_length=80, blank=True)
    origin = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("packed at")
    )
    destination = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("for TPS")
    )
    location = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("now at"),
        help_text=_("Empty while in transit."),
        db_index=False,  # package_location_state leads with it
    )
    state = models.CharField(_("state"), max_length=12, choices=PackageState.choices)
    handover = models.ForeignKey(
        "Handover",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last handover"),
        db_index=False,
    )
    packed_at = models.DateTimeField(_("packed at"))
    packed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    received_at_tps = models.DateTimeField(_("received at the TPS"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "destination__region__code"

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        ordering = ["destination_id", "code"]
        constraints = [models.UniqueConstraint(fields=["code"], name="package_code_once")]
        indexes = [models.Index(fields=["location", "state"], name="package_location_state")]

    def __str__(self) -> str:
        return self.code

    @property
    def qr_payload(self) -> str:
        return f"SIAGA-PKG:{self.code}"


class PackageLine(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(ItemType, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "item"], name="package_line_one_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.package_id} {self.item}: {self.quantity}"


class Seal(models.Model):
    """One tamper-evident seal by its serial. A serial exists once: it can never be applied
    twice, and a broken or void seal stays on record. Stored half full on PostgreSQL, as
    ``HandoverPackage`` is, so that each verification rewrites the row in place."""

    serial = models.CharField(_("serial"), max_length=40, primary_key=True)
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, related_name="seals", verbose_name=_("package")
    )
    state = models.CharField(_("state"), max_length=10, choices=SealState.choices)
    applied_at = models.DateTimeField(_("applied at"))
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("state since"))

    class Meta:
        verbose_name = _("seal")
        verbose_name_plural = _("seals")
        ordering = ["package_id", "serial"]

    def __str__(self) -> str:
        return self.serial


class Handover(UUIDModel):
    """A BAST (Berita Acara Serah Terima): packages and loose items handed from one site to the
    next, with giver, receiver and witnesses. The receiver checks each package and seal."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="+")
    leg = models.CharField(_("leg"), max_length=10, choices=Leg.choices, default=Leg.OUTBOUND)
    from_site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="handovers_out", verbose_name=_("from")
    )
    to_site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="handovers_in", verbose_name=_("to")
    )
    state = models.CharField(_("state"), max_length=12, choices=HandoverState.choices)
    giver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("giver"),
    )
    witnesses = models.JSONField(_("witnesses"), default=list)
    place = models.CharField(_("place"), max_length=150, blank=True)
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=15, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"))
    expected_at = models.DateTimeField(_("expected arrival"), null=True, blank=True)
    dispatch_seq = models.BigIntegerField(_("ledger entry of the dispatch"), null=True, blank=True)
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("receiver"),
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    receive_seq = models.BigIntegerField(_("ledger entry of the receipt"), null=True, blank=True)
    receive_note = models.CharField(_("receiver's note"), max_length=500, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "to_site__region__code"

    class Meta:
        verbose_name = _("handover (BAST)")
        verbose_name_plural = _("handovers (BAST)")
        ordering = ["-dispatched_at"]
        indexes = [models.Index(fields=["to_site", "state"], name="handover_to_state")]

    def __str__(self) -> str:
        return self.number


class HandoverPackage(models.Model):
    """A package on a BAST with the seal serials it left with, and what the receiver found.

    The table is stored half full on PostgreSQL (migration 0002): each receipt and seal scan
    rewrites its line, and with room on the page PostgreSQL does so in place (a HOT update),
    without touching the indexes."""

    handover = models.ForeignKey(
        Handover,
        on_delete=models.CASCADE,
        related_name="packages",
        db_index=False,  # handover_package_once leads with it
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="handovers")
    seals = models.JSONField(_("seal serials at dispatch"), default=list)
    received = models.BooleanField(_("received"), default=False)
    seals_seen = models.JSONField(_("seal serials seen"), default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handover", "package"], name="handover_package_once")
        ]

    def __str__(self) -> str:
        return f"{self.handover_id} {self.package_id}"


class HandoverLine(models.Model):
    """Loose items on a BAST (not in a package): taken from the giver's stock."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(ItemType, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    received = models.PositiveIntegerField(_("received"), null=True, blank=True)
    # Of those received, how many arrived damaged: they go into the receiver's damaged stock.
    damaged = models.PositiveIntegerField(_("arrived damaged"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handover", "item"], name="handover_line_one_per_item"),
            models.CheckConstraint(
                condition=Q(received__isnull=True, damaged=0)
                | Q(damaged__lte=models.F("received")),
                name="handover_damaged_within_received",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handover_id} {self.item}: {self.quantity}"

    @property
    def short(self) -> int:
        return max(self.quantity - self.received, 0) if self.received is not None else 0


class Discrepancy(UUIDModel):
    """Something that does not add up — a shortfall, a missing package, a seal that is not the
    one on the BAST. It stays open until someone resolves it, with a note."""

    kind = models.CharField(_("kind"), max_length=20, choices=DiscrepancyKind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=DiscrepancyState.choices, default=DiscrepancyState.OPEN
    )
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("site")
    )
    handover = models.ForeignKey(
        Handover, on_delete=models.PROTECT, null=True, blank=True, related_name="discrepancies"
    )
    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, null=True, blank=True, related_name="discrepancies"
    )
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="discrepancies"
    )
    item = models.ForeignKey(
        ItemType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.IntegerField(_("quantity"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    alarm = models.ForeignKey(
        "alarms.Alarm", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(_("resolution"), max_length=500, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["state", "site"], name="discrepancy_state_site")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.site}"


class Scan(models.Model):
    """One scan from a phone or scanner, by the client's id: a batch sent twice is recorded
    once. The result says what it did or why not.

    The log of what phones sent, written only by ``services.ingest_scans`` in thousands of rows
    at a time. Its references are the rows that function has just read (the handover under
    lock), and none of them is ever deleted (PROTECT): the database does not check each again
    at commit (``db_constraint=False``), which cost a third of a batch's time on PostgreSQL.
    Indexed for the two ways it is read: a handover's scans in time order, a package's."""

    id = models.UUIDField(primary_key=True)
    action = models.CharField(_("action"), max_length=10)
    code = models.CharField(_("code"), max_length=80)
    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    handover = models.ForeignKey(
        Handover,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scans",
        db_constraint=False,
        db_index=False,  # scan_handover_time leads with it
    )
    package = models.ForeignKey(
        Package,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scans",
        db_constraint=False,
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    at = models.DateTimeField(_("scanned at"))
    status = models.PositiveSmallIntegerField(
        _("answer"), help_text=_("As HTTP: 201 done, 4xx refused.")
    )
    error = models.CharField(_("error code"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        ordering = ["-at"]
        indexes = [models.Index(fields=["handover", "at"], name="scan_handover_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.code}"

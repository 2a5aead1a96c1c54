from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.core.models import UUIDModel
from siaga.sites.choices import SiteKind, ZoneKind

# Indonesia's bounding box, with a margin: a coordinate outside it is a typo.
LAT_MIN, LAT_MAX = Decimal("-11.5"), Decimal("6.5")
LON_MIN, LON_MAX = Decimal("94.5"), Decimal("141.5")


class Site(UUIDModel):
    """A place that holds logistics or people: warehouse, PPK/PPS store, TPS or office."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=150)
    kind = models.CharField(_("kind"), max_length=10, choices=SiteKind.choices)
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="sites",
        verbose_name=_("region"),
    )
    owner_unit = models.ForeignKey(
        "accounts.AgencyUnit",
        on_delete=models.PROTECT,
        related_name="sites",
        verbose_name=_("owning unit"),
    )
    address = models.CharField(_("address"), max_length=250, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=8,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(LAT_MIN), MaxValueValidator(LAT_MAX)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(LON_MIN), MaxValueValidator(LON_MAX)],
    )
    voters = models.PositiveIntegerField(
        _("voters (DPT)"), null=True, blank=True, help_text=_("For a TPS: voters on its DPT.")
    )
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated demo data, not a real record.")
    )
    active = models.BooleanField(_("active"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region__code"

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["region_id", "kind", "code"]
        indexes = [models.Index(fields=["kind", "region"], name="site_kind_region")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True)
                | models.Q(latitude__gte=LAT_MIN, latitude__lte=LAT_MAX),
                name="site_latitude_in_indonesia",
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__isnull=True)
                | models.Q(longitude__gte=LON_MIN, longitude__lte=LON_MAX),
                name="site_longitude_in_indonesia",
            ),
            models.CheckConstraint(
                condition=models.Q(voters__isnull=True) | models.Q(kind=SiteKind.TPS),
                name="site_voters_only_for_tps",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Zone(UUIDModel):
    """An area inside a site: gate, storage hall, office, yard…; restricted zones need escort."""

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="zones", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=ZoneKind.choices)
    restricted = models.BooleanField(
        _("restricted"),
        default=False,
        help_text=_("Entry only with a KPU officer and a police officer present."),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["site_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="zone_name_unique_in_site")
        ]

    def __str__(self) -> str:
        return f"{self.site.name} — {self.name}"


class ChosenSite(UUIDModel):
    """The site a person last chose for one purpose (the gate they guard, where they report,
    the operator form's site…): the place chooser offers it first next time."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="chosen_sites",
        verbose_name=_("user"),
    )
    purpose = models.CharField(_("purpose"), max_length=20)
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    chosen_at = models.DateTimeField(_("chosen at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("chosen site")
        verbose_name_plural = _("chosen sites")
        constraints = [
            models.UniqueConstraint(fields=["user", "purpose"], name="chosen_site_one_per_purpose")
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {self.site_id}"

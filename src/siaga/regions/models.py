from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.regions.choices import RegionKind, RegionLevel


class Region(models.Model):
    """One administrative region (wilayah) by its Kemendagri code.

    Loaded from data (``siaga regions load``), never edited by hand: a region that leaves the
    data after a pemekaran stays, marked inactive, because sites and people may point at it.
    """

    code = models.CharField(_("code"), max_length=13, primary_key=True)
    name = models.CharField(_("name"), max_length=120)
    level = models.PositiveSmallIntegerField(_("level"), choices=RegionLevel.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=RegionKind.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    postal_code = models.CharField(_("postal code"), max_length=5, blank=True)
    active = models.BooleanField(_("in current data"), default=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "name"], name="region_level_name")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_name(self) -> str:
        """ "Kabupaten Ogan Komering Ulu Timur", "Kecamatan Martapura", "Desa Sukaraja"."""
        if self.level in (RegionLevel.PROVINSI, RegionLevel.KABUPATEN_KOTA):
            return self.name
        return f"{self.get_kind_display()} {self.name}"

    def ancestors(self) -> list[Region]:
        """From the province down to the parent, one query."""
        parts = self.code.split(".")
        codes = [".".join(parts[:i]) for i in range(1, len(parts))]
        by_code = {r.code: r for r in Region.objects.filter(code__in=codes)}
        return [by_code[c] for c in codes if c in by_code]

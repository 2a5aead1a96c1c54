"""Safety equipment of a site (APAR, smoke detectors, pumps, lightning protection), its
service records, and the reminders already sent about its dates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.core import i18n
from siaga.core.models import UUIDModel
from siaga.safety.choices import DueKind, EquipmentKind, EquipmentState, ServiceWork, Variant

SIZE_MAX_KG = Decimal("150")


class Equipment(UUIDModel):
    """One item at a site, in a zone where known. Its two dates — ``expiry_on`` (an APAR's
    cylinder, a detector's sensor) and ``next_service_on`` (the periodic inspection) — are
    what reminders and alarms watch; at least one is set. The responsible officer is told
    before a date passes."""

    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        related_name="safety_equipment",
        verbose_name=_("site"),
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="safety_equipment",
        verbose_name=_("zone"),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=EquipmentKind.choices)
    variant = models.CharField(
        _("type"),
        max_length=20,
        choices=Variant.choices,
        blank=True,
        help_text=_("An APAR's agent (powder, CO2, foam, water); the other kinds' type."),
    )
    size_kg = models.DecimalField(
        _("size (kg)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("An APAR's charge in kilograms."),
    )
    serial = models.CharField(_("serial number"), max_length=60, blank=True)
    location = models.CharField(
        _("location"), max_length=150, blank=True, help_text=_("e.g. beside the door of hall A.")
    )
    installed_on = models.DateField(_("installed on"))
    expiry_on = models.DateField(_("expires on"), null=True, blank=True)
    next_service_on = models.DateField(_("next service on"), null=True, blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="safety_equipment",
        verbose_name=_("responsible officer"),
    )
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=EquipmentState.choices,
        default=EquipmentState.IN_SERVICE,
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("safety equipment")
        verbose_name_plural = _("safety equipment")
        ordering = ["site_id", "kind", "serial"]
        indexes = [
            models.Index(fields=["state", "expiry_on"], name="safety_eq_state_expiry"),
            models.Index(fields=["state", "next_service_on"], name="safety_eq_state_service"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expiry_on__isnull=True) | Q(expiry_on__gte=F("installed_on")),
                name="safety_expiry_not_before_installation",
            ),
            models.CheckConstraint(
                condition=Q(next_service_on__isnull=True)
                | Q(next_service_on__gte=F("installed_on")),
                name="safety_service_not_before_installation",
            ),
            models.CheckConstraint(
                condition=Q(expiry_on__isnull=False) | Q(next_service_on__isnull=False),
                name="safety_equipment_has_a_date",
            ),
            models.CheckConstraint(
                condition=Q(size_kg__isnull=True) | Q(size_kg__gt=0, size_kg__lte=SIZE_MAX_KG),
                name="safety_size_positive",
            ),
            models.UniqueConstraint(
                fields=["site", "serial"],
                condition=~Q(serial=""),
                name="safety_serial_unique_in_site",
            ),
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def text(self) -> dict[str, Any]:
        """The item as readers name it, in their language: "APAR · Dry powder · 6 kg ·
        SN 0012"."""
        parts: list[i18n.Text | None] = [i18n.label(EquipmentKind, self.kind)]
        if self.variant:
            parts.append(i18n.label(Variant, self.variant))
        if self.size_kg is not None:
            parts.append(f"{self.size_kg.normalize():f} kg")
        if self.serial:
            parts.append(f"SN {self.serial}")
        return i18n.lines(*parts, sep=" · ")

    @property
    def display(self) -> str:
        return i18n.render(self.text)

    @property
    def place_text(self) -> str:
        return " — ".join(p for p in (self.zone.name if self.zone else "", self.location) if p)

    def clean(self) -> None:
        """The admin's form: the same rules, with the same words, as the services."""
        from siaga.core.errors import SiagaError
        from siaga.safety.rules import check_equipment

        if self.site_id is None or self.installed_on is None or self.responsible_id is None:
            return  # the required field's own error says it
        try:
            check_equipment(self)
        except SiagaError as exc:
            raise ValidationError(str(exc.message), code=exc.code) from exc


class ServiceRecord(UUIDModel):
    """Who serviced an item, when, what was done and when it is due next. Recording one moves
    the item's next service date (and its expiry, for a refilled APAR)."""

    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, related_name="services", verbose_name=_("equipment")
    )
    performed_on = models.DateField(_("performed on"))
    work = models.CharField(_("work done"), max_length=16, choices=ServiceWork.choices)
    notes = models.TextField(_("notes"), max_length=1000, blank=True)
    performed_by = models.CharField(
        _("performed by"),
        max_length=150,
        blank=True,
        help_text=_("Who did the work, when not the person recording it (a vendor, say)."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="safety_services",
        verbose_name=_("recorded by"),
    )
    next_service_on = models.DateField(_("next service on"), null=True, blank=True)
    expiry_on = models.DateField(
        _("new expiry date"),
        null=True,
        blank=True,
        help_text=_("After a refill or a new cylinder."),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "equipment__site__region__code"

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["-performed_on", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(next_service_on__isnull=True)
                | Q(next_service_on__gt=F("performed_on")),
                name="safety_next_service_after_service",
            ),
            models.CheckConstraint(
                condition=Q(expiry_on__isnull=True) | Q(expiry_on__gt=F("performed_on")),
                name="safety_new_expiry_after_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.performed_on:%Y-%m-%d} {self.get_work_display()}"


class Reminder(models.Model):
    """A reminder sent about one of an item's dates, ``step`` days before it: each is sent
    once, whatever the sweep's schedule or the number of workers."""

    equipment = models.ForeignKey(
        Equipment, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("equipment")
    )
    due = models.CharField(_("date"), max_length=8, choices=DueKind.choices)
    due_on = models.DateField(_("due on"))
    step = models.PositiveSmallIntegerField(_("days before"))
    sent_at = models.DateTimeField(_("sent at"))
    told = models.PositiveSmallIntegerField(_("people told"), default=0)

    class Meta:
        verbose_name = _("equipment reminder")
        verbose_name_plural = _("equipment reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["equipment", "due", "due_on", "step"], name="safety_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.due} {self.due_on} -{self.step}d"

"""Alarms: machine-detected trouble, one row per condition however often it repeats."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.alarms.choices import SEVERITY_RANK, AlarmSeverity, AlarmStatus, kind_label
from siaga.core import i18n
from siaga.core.models import UUIDModel
from siaga.incidents.choices import Category, Severity


class Alarm(UUIDModel):
    """Lifecycle active/cleared × acknowledged/unacknowledged. ``source`` + ``key`` name the
    condition: while it is active, raising it again counts a repeat instead of a new alarm."""

    source = models.CharField(_("source"), max_length=40, help_text=_("The module, e.g. hazards."))
    key = models.CharField(_("de-duplication key"), max_length=200)
    kind = models.CharField(_("kind"), max_length=60, help_text=_("e.g. water_leak, overstay."))
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="alarms", verbose_name=_("site")
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alarms",
        verbose_name=_("zone"),
    )
    severity = models.CharField(_("severity"), max_length=10, choices=AlarmSeverity.choices)
    message = models.CharField(_("message"), max_length=500)
    # The message as a siaga.core.i18n tree, shown in each reader's language; ``message`` is
    # its rendering in Bahasa Indonesia (what the ledger and incidents keep).
    message_text = models.JSONField(_("message (translatable)"), default=dict, blank=True)
    evidence = models.JSONField(
        _("evidence"), default=list, blank=True, help_text=_("Links: type, id, label.")
    )
    active = models.BooleanField(_("active"), default=True)
    first_raised_at = models.DateTimeField(_("first raised at"))
    last_raised_at = models.DateTimeField(_("last raised at"))
    repeats = models.PositiveIntegerField(_("times raised"), default=1)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    next_reminder_at = models.DateTimeField(
        _("next reminder at"), null=True, blank=True, db_index=True
    )
    reminders = models.PositiveIntegerField(_("reminders sent"), default=0)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alarms",
        verbose_name=_("incident"),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        ordering = ["-last_raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "key"], condition=Q(active=True), name="alarm_one_active_per_key"
            )
        ]
        indexes = [
            models.Index(fields=["site", "active", "-last_raised_at"], name="alarm_site_active"),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.message}"

    @property
    def status(self) -> str:
        if self.active:
            return AlarmStatus.ACTIVE_ACK if self.acknowledged_at else AlarmStatus.ACTIVE_UNACK
        return AlarmStatus.CLEARED_ACK if self.acknowledged_at else AlarmStatus.CLEARED_UNACK

    @property
    def display_message(self) -> str:
        return i18n.render(self.message_text) if self.message_text else self.message

    def get_kind_display(self) -> str:
        return kind_label(self.source, self.kind)

    def get_status_display(self) -> str:
        return str(AlarmStatus(self.status).label)

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[AlarmSeverity(self.severity)]


class AlarmPolicy(models.Model):
    """Which alarms open an incident (and so escalate), and how often an unacknowledged alarm
    reminds the site's responders. The most specific matching row wins."""

    source = models.CharField(_("source"), max_length=40, blank=True, help_text=_("Empty: any."))
    kind = models.CharField(_("kind"), max_length=60, blank=True, help_text=_("Empty: any."))
    min_severity = models.CharField(
        _("from severity"),
        max_length=10,
        choices=AlarmSeverity.choices,
        default=AlarmSeverity.WARNING,
        help_text=_("Applies to alarms this severe or worse."),
    )
    opens_incident = models.BooleanField(_("opens an incident"), default=False)
    incident_category = models.CharField(
        _("incident category"), max_length=20, choices=Category.choices, default=Category.OTHER
    )
    incident_severity = models.PositiveSmallIntegerField(
        _("incident severity"), choices=Severity.choices, default=Severity.MEDIUM
    )
    remind_minutes = models.PositiveIntegerField(
        _("remind every (minutes)"), default=10, help_text=_("0: no reminders.")
    )

    class Meta:
        verbose_name = _("alarm policy")
        verbose_name_plural = _("alarm policies")
        ordering = ["source", "kind", "min_severity"]

    def __str__(self) -> str:
        return f"{self.source or '*'}/{self.kind or '*'} ≥ {self.get_min_severity_display()}"

    def matches(self, source: str, kind: str, severity: str) -> bool:
        return (
            self.source in ("", source)
            and self.kind in ("", kind)
            and SEVERITY_RANK[AlarmSeverity(severity)]
            <= SEVERITY_RANK[AlarmSeverity(self.min_severity)]
        )

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (
            bool(self.source),
            bool(self.kind),
            -SEVERITY_RANK[AlarmSeverity(self.min_severity)],
        )

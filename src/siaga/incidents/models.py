"""Incidents (kejadian menonjol): what happened, where, how bad, and who answered when."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.accounts.choices import Role
from siaga.accounts.scoping import ScopedQuerySet
from siaga.core import i18n
from siaga.core.models import UUIDModel
from siaga.incidents.choices import (
    OPEN_STATES,
    Category,
    EventKind,
    LinkType,
    Severity,
    Source,
    State,
    TierLevel,
)


class Incident(UUIDModel):
    """One notable incident. The id is chosen by the reporting phone, so a resend is harmless."""

    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    state = models.CharField(
        _("state"), max_length=15, choices=State.choices, default=State.REPORTED
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.PERSON
    )
    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("site"),
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("zone"),
    )
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("region"),
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=8, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    description = models.TextField(_("description"), blank=True)
    # An incident an alarm opened: its description as a tree (siaga.core.i18n), so each reader
    # reads the alarm's words in their language; empty for what a person wrote.
    description_text = models.JSONField(_("description (translatable)"), default=dict, blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reported_incidents",
        verbose_name=_("reporter"),
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    reported_at = models.DateTimeField(_("reported at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_incidents",
        verbose_name=_("responder"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Escalation: the tier told last, and when the next reminder or tier is due.
    policy = models.ForeignKey(
        "incidents.EscalationPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("escalation policy"),
    )
    tier = models.PositiveSmallIntegerField(_("escalation tier"), default=0)
    tier_started_at = models.DateTimeField(_("tier started at"), null=True, blank=True)
    next_escalation_at = models.DateTimeField(
        _("next escalation at"), null=True, blank=True, db_index=True
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region__code"

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["region", "state", "-reported_at"], name="incident_region_state"),
            models.Index(fields=["site", "-reported_at"], name="incident_site_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} — {self.reference}"

    @property
    def reference(self) -> str:
        """A short reference a person can read out over the radio."""
        return f"INS-{str(self.id)[-6:].upper()}"

    @property
    def display_description(self) -> str:
        """The description in the reader's language when an alarm wrote it; else as written."""
        return i18n.render(self.description_text) if self.description_text else self.description

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def awaiting_acknowledgement(self) -> bool:
        return self.state == State.REPORTED

    @property
    def severity_definition(self) -> str:
        from siaga.incidents.choices import SEVERITY_DEFINITIONS

        return str(SEVERITY_DEFINITIONS[self.severity])


class IncidentPhoto(UUIDModel):
    """A photo, decoded and re-encoded on upload: no metadata survives but the location,
    which becomes the incident's. The bytes live in the database, so a photo commits or rolls
    back with its incident and is served only through the scoped view."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="photos", verbose_name=_("incident")
    )
    content = models.BinaryField(_("content"))
    content_type = models.CharField(_("content type"), max_length=20)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "incident__region__code"

    class Meta:
        verbose_name = _("incident photo")
        verbose_name_plural = _("incident photos")
        ordering = ["created_at"]

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/webp": "webp"}.get(self.content_type, "jpg")


def timeline_text(kind: str, data: dict[str, Any], language: str | None = None) -> str:
    """A system line of the timeline from its kind and data, in ``language`` (default: the
    active one), so each reader reads it in theirs; "" for lines whose text is what a person
    wrote (comments, resolutions) or that carry no parameters."""
    if kind == EventKind.ESCALATED and "tier" in data and "told" in data:
        if "after_minutes" in data:
            tree = i18n.ngettext(
                "Nobody acknowledged within %(minutes)s minutes: tier %(tier)s told "
                "(%(count)s person)",
                "Nobody acknowledged within %(minutes)s minutes: tier %(tier)s told "
                "(%(count)s people)",
                data["told"],
                minutes=data["after_minutes"],
                tier=data["tier"],
                count=data["told"],
            )
        else:
            tree = i18n.ngettext(
                "Tier %(tier)s told: %(count)s person",
                "Tier %(tier)s told: %(count)s people",
                data["told"],
                tier=data["tier"],
                count=data["told"],
            )
        return i18n.render(tree, language)
    if kind == EventKind.REMINDED and "reminder" in data:
        tree = i18n.text(gettext_noop("Reminder %(n)s: still unacknowledged"), n=data["reminder"])
        return i18n.render(tree, language)
    return ""


class IncidentEvent(models.Model):
    """One line of the timeline. Each has its ledger entry (``ledger_seq``)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="events", verbose_name=_("incident")
    )
    client_id = models.UUIDField(_("client id"), unique=True, null=True, blank=True)
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    kind = models.CharField(_("kind"), max_length=15, choices=EventKind.choices)
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "incident__region__code"

    class Meta:
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def display_text(self) -> str:
        """System lines in the reader's language; what a person wrote as they wrote it. The
        first line of an incident an alarm opened is the alarm's words, in the reader's
        language too (the incident keeps them; the ledger has them as first written)."""
        if (
            self.kind == EventKind.REPORTED
            and "alarm" in self.data
            and self.incident.description_text
        ):
            return self.incident.display_description
        return timeline_text(self.kind, self.data) or self.text


class IncidentLink(models.Model):
    """Evidence: an alarm, a visit, a package or a seal that this incident concerns."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="links", verbose_name=_("incident")
    )
    link_type = models.CharField(_("type"), max_length=10, choices=LinkType.choices)
    link_id = models.CharField(_("id"), max_length=64)
    label = models.CharField(_("label"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("incident link")
        verbose_name_plural = _("incident links")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "link_type", "link_id"], name="incident_link_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_link_type_display()} {self.label or self.link_id}"


class EscalationPolicy(models.Model):
    """Who hears of which incidents, and how long they have to acknowledge before the next
    tier is told. Data, so KPU and Polri can change it without a release."""

    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(
        _("category"),
        max_length=20,
        choices=Category.choices,
        blank=True,
        help_text=_("Empty: every category."),
    )
    max_severity = models.PositiveSmallIntegerField(
        _("applies up to severity"),
        choices=Severity.choices,
        default=Severity.LOW,
        help_text=_("Applies to incidents of this severity or worse (1 is worst)."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("The lowest number that matches wins.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def matches(self, category: str, severity: int) -> bool:
        return self.active and self.category in ("", category) and severity <= self.max_severity


class EscalationTier(models.Model):
    """One step of a policy: which roles (and posts) at which level are told, how long they
    have to acknowledge, and how often they are reminded meanwhile."""

    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("policy")
    )
    number = models.PositiveSmallIntegerField(_("tier"))
    level = models.CharField(
        _("level"), max_length=10, choices=TierLevel.choices, default=TierLevel.KABUPATEN
    )
    targets = models.JSONField(
        _("who is told"),
        default=list,
        help_text=_(
            'Role codes, or "role:Post" for one post within a role (e.g. '
            '"police_commander:Kapolres"). Where nobody holds the post, everyone in the role '
            "is told: a tier never tells nobody."
        ),
    )
    ack_minutes = models.PositiveIntegerField(_("minutes to acknowledge"), default=5)
    remind_minutes = models.PositiveIntegerField(_("remind every (minutes)"), default=2)

    class Meta:
        verbose_name = _("escalation tier")
        verbose_name_plural = _("escalation tiers")
        ordering = ["policy", "number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="tier_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.policy} — {self.number}"

    def target_labels(self) -> list[str]:
        labels = dict(Role.choices)
        out = []
        for target in self.targets:
            role, _sep, post = str(target).partition(":")
            label = str(labels.get(role, role))
            out.append(f"{label} ({post})" if post else label)
        return out


class Notified(models.Model):
    """Who was told of an incident, at which tier and when: the basis of "my open
    acknowledgements" and of the escalation record."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="notified", verbose_name=_("incident")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="incident_notices",
        verbose_name=_("user"),
    )
    tier = models.PositiveSmallIntegerField(_("tier"))
    first_at = models.DateTimeField(_("first told at"))
    last_at = models.DateTimeField(_("last told at"))
    times = models.PositiveIntegerField(_("times told"), default=1)

    class Meta:
        verbose_name = _("notified person")
        verbose_name_plural = _("notified people")
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="notified_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.tier}"

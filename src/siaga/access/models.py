"""Gate and visitors: who may enter a site, who did, and who is inside now.

A person is a national ``Person`` (the NIK, encrypted, found by a keyed hash); what a region
knows of them is that region's ``Visitor`` record (staff with a standing pass too): one record
per person and Kabupaten/Kota, however many visits, with the history of its changes.
``Presence`` is the "who is inside now" board, kept in step with the gate events by the
services; the gate events and the ledger are the history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.access.choices import GateEventKind, Officer, PassKind, Purpose, VisitState
from siaga.accounts.scoping import ScopedQuerySet, scope_roots
from siaga.core.crypto import EncryptedBinaryField, EncryptedTextField, keyed_hash
from siaga.core.models import UUIDModel
from siaga.regions.codes import subtree_q


def record_region(code: str) -> str:
    """The region that holds a person's record: the Kabupaten/Kota of ``code`` (a province or
    the nation stays as it is)."""
    return ".".join(code.split(".")[:2]) if code else ""


class PersonQuerySet(models.QuerySet["Person"]):
    def by_nik(self, nik: str) -> PersonQuerySet:
        return self.filter(nik_hash=nik_lookup_hash(nik))


def nik_lookup_hash(nik: str) -> str:
    """The keyed hash that finds a person by NIK (the NIK itself is stored encrypted)."""
    return keyed_hash(nik, purpose="nik")


class Person(UUIDModel):
    """A person's national identity: the NIK, encrypted, found by its keyed hash. What a region
    knows of the person (name, organisation, phone, photo) lies in that region's ``Visitor``
    record, never here."""

    nik_hash = models.CharField(_("NIK look-up hash"), max_length=80, unique=True)
    nik = EncryptedTextField(_("NIK"), blank=True, help_text=_("Encrypted; empty once erased."))
    erased_at = models.DateTimeField(_("NIK erased at"), null=True, blank=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return f"{self.nik[:4]}********{self.nik[12:]}" if self.nik else str(self.pk)


class VisitorQuerySet(models.QuerySet["Visitor"]):
    def for_user(self, user: Any, action: str, *more: str) -> VisitorQuerySet:
        """The records of the regions the user works in for ``action`` (or any of ``more``):
        their Kabupaten/Kota's (a kecamatan unit sees its kabupaten's records), and those of
        the regions below a province's. One filter on the row's own region, no subquery, so
        that a look-up by NIK stays an index look-up however many records there are."""
        q = models.Q(pk__in=[])
        for each in (action, *more):
            roots = scope_roots(user, each)
            if roots is None:
                return self.all()
            ordered = sorted(roots)
            above = {record_region(r) for r in ordered if r.count(".") > 1}
            q |= models.Q(region__in=above) | subtree_q("region", ordered)
        return self.filter(q)

    def by_nik(self, nik: str) -> VisitorQuerySet:
        return self.filter(person__nik_hash=nik_lookup_hash(nik))


class Visitor(UUIDModel):
    """What one region knows of a person: one record per person and registering
    Kabupaten/Kota, however many visits. A visit in another region never changes it; each
    change keeps the old value in ``VisitorChange``."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="records", verbose_name=_("person")
    )
    region = models.CharField(
        _("region holding the record"),
        max_length=13,
        blank=True,
        help_text=_("The Kabupaten/Kota that registered the person here."),
    )
    nik_masked = models.CharField(_("NIK (masked)"), max_length=16, blank=True)
    # The person's pseudonym in the ledger (a keyed hash of the NIK, the same in every region):
    # what erasure redacts by.
    person_ref = models.CharField(_("ledger pseudonym"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=150)
    organisation = models.CharField(_("organisation"), max_length=150, blank=True)
    phone = EncryptedTextField(_("phone"), blank=True, help_text=_("E.164, +62…; encrypted"))
    officer = models.CharField(
        _("officer of"),
        max_length=10,
        choices=Officer.choices,
        blank=True,
        help_text=_("For the two-person rule: the body this person serves, if any."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visitor_records",
        verbose_name=_("SIAGA account"),
    )
    photo = EncryptedBinaryField(_("photo"), null=True, blank=True)
    photo_content_type = models.CharField(_("photo type"), max_length=20, blank=True)
    photo_sha256 = models.CharField(_("photo SHA-256"), max_length=64, blank=True)
    watchlisted = models.BooleanField(_("on the watchlist"), default=False)
    watchlist_reason = models.CharField(_("watchlist reason"), max_length=300, blank=True)
    watchlisted_at = models.DateTimeField(_("watchlisted at"), null=True, blank=True)
    watchlisted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("watchlisted by"),
    )
    # The region of the unit that listed the person: the listing holds at every gate, but only
    # approvers covering this region may change or lift it.
    watchlist_region = models.CharField(_("listed by region"), max_length=13, blank=True)

    objects = VisitorQuerySet.as_manager()

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["person", "region"], name="visitor_one_per_region"),
            models.UniqueConstraint(
                fields=["user", "region"],
                condition=models.Q(user__isnull=False),
                name="visitor_account_one_per_region",
            ),
        ]
        indexes = [models.Index(fields=["region", "name"], name="visitor_region_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_nik(self) -> str:
        return self.nik_masked

    @property
    def nik(self) -> str:
        """The full NIK (decrypted from the person): for the few who hold the KTP anyway."""
        return self.person.nik


class VisitorChange(models.Model):
    """One change of a region's record of a person: who, when, which fact, and the value it
    had (encrypted: an old phone number is as personal as the new one)."""

    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="changes", verbose_name=_("record")
    )
    field = models.CharField(_("field"), max_length=30)
    old_value = EncryptedTextField(_("old value"), blank=True)
    changed_at = models.DateTimeField(_("changed at"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    via = models.CharField(_("through"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("change of a visitor record")
        verbose_name_plural = _("changes of visitor records")
        ordering = ["visitor_id", "changed_at", "pk"]
        indexes = [models.Index(fields=["visitor", "changed_at"], name="visitor_change_time")]

    def __str__(self) -> str:
        return f"{self.visitor_id} {self.field} {self.changed_at:%Y-%m-%d %H:%M}"


class SiteRules(models.Model):
    """The access rules of one site; a site without a row follows the defaults."""

    site = models.OneToOneField(
        "sites.Site",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="access_rules",
        verbose_name=_("site"),
    )
    two_person_rule = models.BooleanField(
        _("two-person rule"),
        default=True,
        help_text=_(
            "Storage and restricted zones: entry only together with a KPU officer and a "
            "Polri or Bawaslu officer."
        ),
    )
    after_hours_start = models.TimeField(_("after hours from"), default=dt.time(18, 0))
    after_hours_end = models.TimeField(_("after hours until"), default=dt.time(7, 0))
    max_per_zone = models.PositiveIntegerField(
        _("most people in one zone"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("site access rules")
        verbose_name_plural = _("site access rules")

    def __str__(self) -> str:
        return str(self.site)

    def is_after_hours(self, local_time: dt.time) -> bool:
        start, end = self.after_hours_start, self.after_hours_end
        if start == end:
            return False
        if start < end:
            return start <= local_time < end
        return local_time >= start or local_time < end


class StandingPass(UUIDModel):
    """A pass for staff, guards and hired workers: which zones, which days and hours, until
    when. Its QR badge makes a regular check-in one scan."""

    visitor = models.ForeignKey(
        Visitor, on_delete=models.PROTECT, related_name="passes", verbose_name=_("holder")
    )
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="passes", verbose_name=_("site")
    )
    zones = models.ManyToManyField("sites.Zone", related_name="+", verbose_name=_("zones"))
    kind = models.CharField(_("kind"), max_length=10, choices=PassKind.choices)
    # ISO weekdays the pass is good on: "12345" is Monday to Friday.
    weekdays = models.CharField(_("days"), max_length=7, default="1234567")
    start_time = models.TimeField(_("from"), null=True, blank=True)
    end_time = models.TimeField(_("until"), null=True, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    badge_code = models.CharField(_("badge code"), max_length=40, unique=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("issued by"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("standing pass")
        verbose_name_plural = _("standing passes")
        ordering = ["site_id", "visitor__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="pass_valid_until_after_from",
            )
        ]

    def __str__(self) -> str:
        return f"{self.visitor} — {self.site}"

    @property
    def badge_masked(self) -> str:
        return f"{self.badge_code[:4]}…"

    @property
    def reference(self) -> str:
        """How logs name the pass: never any part of the badge code, which opens the gate."""
        return f"PAS-{str(self.pk)[-6:].upper()}"

    @property
    def qr_payload(self) -> str:
        return f"SIAGA-PASS:{self.badge_code}"


class Visit(UUIDModel):
    """One visit: who, where, why, with whom as host, when; approved or not; in and out."""

    visitor = models.ForeignKey(
        Visitor, on_delete=models.PROTECT, related_name="visits", verbose_name=_("visitor")
    )
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="visits", verbose_name=_("site")
    )
    zones = models.ManyToManyField("sites.Zone", related_name="+", verbose_name=_("zones"))
    # The name and organisation as registered for this visit: a later change of the record
    # does not rewrite what the visit was.
    visitor_name = models.CharField(_("visitor's name, as registered"), max_length=150, blank=True)
    visitor_organisation = models.CharField(
        _("visitor's organisation, as registered"), max_length=150, blank=True
    )
    purpose = models.CharField(_("purpose"), max_length=15, choices=Purpose.choices)
    purpose_text = models.CharField(_("purpose, in words"), max_length=300, blank=True)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hosted_visits",
        verbose_name=_("host"),
    )
    planned_start = models.DateTimeField(_("planned start"))
    planned_end = models.DateTimeField(_("planned end"))
    state = models.CharField(
        _("state"), max_length=12, choices=VisitState.choices, default=VisitState.REQUESTED
    )
    walk_in = models.BooleanField(_("walk-in"), default=False)
    # Part of the planned window falls after hours: entry then needs a commissioner's approval.
    after_hours = models.BooleanField(_("after hours"), default=False)
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=15, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    deny_reason = models.CharField(_("reason for refusal"), max_length=300, blank=True)
    after_hours_approved_at = models.DateTimeField(
        _("after-hours approval at"), null=True, blank=True
    )
    after_hours_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("after hours approved by"),
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-planned_start"]
        indexes = [
            models.Index(fields=["site", "state", "planned_start"], name="visit_site_state"),
            models.Index(fields=["host", "state"], name="visit_host_state"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_end__gt=models.F("planned_start")),
                name="visit_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.visitor} @ {self.site}"

    @property
    def reference(self) -> str:
        return f"KJ-{str(self.pk)[-6:].upper()}"


class GateEvent(UUIDModel):
    """One pass through a gate or a zone door: in, or out. The id is the guard's phone's, so a
    resend is the same event."""

    kind = models.CharField(_("kind"), max_length=10, choices=GateEventKind.choices)
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="gate_events", verbose_name=_("site")
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("zone"),
    )
    from_zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from zone"),
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.PROTECT, related_name="gate_events", verbose_name=_("person")
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gate_events",
        verbose_name=_("visit"),
    )
    standing_pass = models.ForeignKey(
        StandingPass,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gate_events",
        verbose_name=_("pass"),
    )
    guard = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("guard"),
    )
    at = models.DateTimeField(_("at"))
    badge = models.CharField(_("credential"), max_length=40, blank=True)
    items = models.JSONField(_("declared items"), default=list, blank=True)
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=15, blank=True)
    companions = models.JSONField(_("companions"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("gate event")
        verbose_name_plural = _("gate events")
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["site", "-at"], name="gate_event_site_time"),
            models.Index(fields=["visitor", "-at"], name="gate_event_visitor_time"),
            models.Index(fields=["zone", "-at"], name="gate_event_zone_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.visitor} {self.at:%Y-%m-%d %H:%M}"


class Presence(models.Model):
    """Who is inside now: one row per person inside a site, in the zone they last entered
    (none: the site's grounds). Written only with the gate event that changes it."""

    visitor = models.OneToOneField(
        Visitor,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="presence",
        verbose_name=_("person"),
    )
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="presences", verbose_name=_("site")
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="presences",
        verbose_name=_("zone"),
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    standing_pass = models.ForeignKey(
        StandingPass, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered the site at"))
    zone_since = models.DateTimeField(_("in this zone since"))
    expected_out = models.DateTimeField(_("expected out by"), null=True, blank=True)
    last_event = models.ForeignKey(
        GateEvent, on_delete=models.PROTECT, related_name="+", verbose_name=_("last gate event")
    )
    overstay_alarmed = models.BooleanField(_("overstay alarm raised"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("person inside")
        verbose_name_plural = _("people inside")
        ordering = ["site_id", "zone_id", "entered_at"]
        indexes = [
            models.Index(fields=["site", "zone"], name="presence_site_zone"),
            models.Index(fields=["expected_out"], name="presence_expected_out"),
        ]

    def __str__(self) -> str:
        return f"{self.visitor} @ {self.site}"

"""Weather warnings: the feeds they come from, each CAP alert by its identifier, its areas and
the sites it covers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as django_timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet, scope_roots
from siaga.core.models import UUIDModel
from siaga.regions.codes import covering_codes, subtree_q
from siaga.weather.choices import (
    SEVERITY_RANK,
    CapScope,
    CapStatus,
    Certainty,
    FoundIn,
    Freshness,
    Hazard,
    MatchedBy,
    MsgType,
    Severity,
    Urgency,
    WarningState,
)

ZONE_NAMES = {420: "WIB", 480: "WITA", 540: "WIT"}


def zone_label(offset: int) -> str:
    """``+07:00`` is written WIB, as BMKG and every Indonesian reader write it."""
    if offset in ZONE_NAMES:
        return ZONE_NAMES[offset]
    sign = "+" if offset >= 0 else "-"
    return f"UTC{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def local(moment: datetime | None, offset: int) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(timezone(timedelta(minutes=offset)))


class Feed(UUIDModel):
    """Where warnings come from: an RSS feed or a CAP document, by URL or file path. Those in
    SIAGA_WEATHER_FEEDS are ``polled`` by the worker; the others were ingested by hand."""

    source = models.CharField(_("source"), max_length=500, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    polled = models.BooleanField(
        _("polled"), default=False, help_text=_("Listed in SIAGA_WEATHER_FEEDS.")
    )
    last_fetched_at = models.DateTimeField(_("last fetched at"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last fetched successfully at"), null=True, blank=True)
    published_at = models.DateTimeField(
        _("last published at"),
        null=True,
        blank=True,
        help_text=_("The feed's own date (lastBuildDate, newest item) at the last success."),
    )
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    last_error_code = models.CharField(_("last error"), max_length=60, blank=True)
    last_error_message = models.CharField(_("last error message"), max_length=500, blank=True)
    fetches = models.PositiveIntegerField(_("fetches"), default=0)
    # {code: count} of every bad input met, and the last few with where they were met.
    problem_counts = models.JSONField(_("problems by code"), default=dict, blank=True)
    recent_problems = models.JSONField(_("recent problems"), default=list, blank=True)

    class Meta:
        verbose_name = _("weather feed")
        verbose_name_plural = _("weather feeds")
        ordering = ["-polled", "source"]

    def __str__(self) -> str:
        return self.title or self.source

    @property
    def last_update(self) -> datetime | None:
        """The newest moment the feed is known to speak for: its own date when it gives one,
        else when it was last read."""
        return self.published_at or self.last_success_at

    def freshness(self, now: datetime | None = None) -> str:
        last = self.last_update
        if last is None:
            return Freshness.NEVER
        now = now or django_timezone.now()
        stale = timedelta(hours=settings.WEATHER_STALE_HOURS)
        return Freshness.FRESH if now - last <= stale else Freshness.STALE

    @property
    def problems(self) -> int:
        return sum(int(v) for v in self.problem_counts.values())


class WeatherWarningQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, action: str) -> Self:
        """Warnings about a region in the user's scope, or above it (a kabupaten-wide warning
        concerns the kecamatan unit inside it)."""
        roots = scope_roots(user, action)
        if roots is None:
            return self.all()
        above = {code for root in roots for code in covering_codes(root)}
        regions = WarningRegion.objects.filter(
            subtree_q("region__code", sorted(roots)) | Q(region_id__in=sorted(above))
        )
        return self.filter(pk__in=regions.values("warning_id"))

    def in_force(self, now: datetime | None = None) -> Self:
        """Current (neither replaced nor cancelled), actual, begun and not yet expired."""
        now = now or django_timezone.now()
        return self.filter(
            state=WarningState.CURRENT,
            status=CapStatus.ACTUAL,
            msg_type__in=[MsgType.ALERT, MsgType.UPDATE],
            effective__lte=now,
            expires__gt=now,
        )


class WeatherWarning(UUIDModel):
    """One CAP alert, by its identifier. Its texts per language are ``WarningInfo`` rows: the
    Indonesian and English documents BMKG publishes for one alert are one warning.

    Times are stored in UTC, each beside the offset it was written with (minutes), so a
    warning written in WITA is shown in WITA."""

    identifier = models.CharField(_("identifier"), max_length=200, unique=True)
    sender = models.CharField(_("sender"), max_length=200)
    sent = models.DateTimeField(_("sent"))
    sent_offset = models.SmallIntegerField(_("sent: UTC offset (minutes)"))
    status = models.CharField(_("status"), max_length=10, choices=CapStatus.choices)
    msg_type = models.CharField(_("message type"), max_length=10, choices=MsgType.choices)
    scope = models.CharField(
        _("scope"), max_length=12, choices=CapScope.choices, default=CapScope.PUBLIC
    )
    note = models.CharField(_("note"), max_length=1000, blank=True)
    state = models.CharField(
        _("state"), max_length=12, choices=WarningState.choices, default=WarningState.CURRENT
    )
    ended_at = models.DateTimeField(_("replaced or cancelled at"), null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supersedes",
        verbose_name=_("replaced by"),
    )
    cancelled_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cancels",
        verbose_name=_("cancelled by"),
    )
    category = models.CharField(_("category"), max_length=100, blank=True)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    certainty = models.CharField(_("certainty"), max_length=10, choices=Certainty.choices)
    hazards = models.JSONField(_("hazards"), default=list, blank=True)
    effective = models.DateTimeField(_("effective"))
    effective_offset = models.SmallIntegerField(_("effective: UTC offset (minutes)"))
    onset = models.DateTimeField(_("onset"), null=True, blank=True)
    onset_offset = models.SmallIntegerField(_("onset: UTC offset (minutes)"), null=True, blank=True)
    expires = models.DateTimeField(_("expires"))
    expires_offset = models.SmallIntegerField(_("expires: UTC offset (minutes)"))
    expires_stated = models.BooleanField(
        _("expiry stated"),
        default=True,
        help_text=_("False when the alert gave none and SIAGA_WEATHER_DEFAULT_HOURS was used."),
    )
    feed = models.ForeignKey(
        Feed,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warnings",
        verbose_name=_("feed"),
    )
    source = models.CharField(_("document"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received at"))

    objects = WeatherWarningQuerySet.as_manager()

    class Meta:
        verbose_name = _("weather warning")
        verbose_name_plural = _("weather warnings")
        ordering = ["-sent"]
        indexes = [models.Index(fields=["state", "expires"], name="weather_warning_current")]

    def __str__(self) -> str:
        return self.identifier

    # -- times as written --------------------------------------------------------------------
    @property
    def sent_local(self) -> datetime | None:
        return local(self.sent, self.sent_offset)

    @property
    def effective_local(self) -> datetime | None:
        return local(self.effective, self.effective_offset)

    @property
    def onset_local(self) -> datetime | None:
        return local(self.onset, self.onset_offset or 0)

    @property
    def expires_local(self) -> datetime | None:
        return local(self.expires, self.expires_offset)

    @property
    def zone(self) -> str:
        return zone_label(self.expires_offset)

    # -- state -------------------------------------------------------------------------------
    def is_in_force(self, now: datetime | None = None) -> bool:
        now = now or django_timezone.now()
        return (
            self.state == WarningState.CURRENT
            and self.status == CapStatus.ACTUAL
            and self.msg_type in (MsgType.ALERT, MsgType.UPDATE)
            and self.effective <= now < self.expires
        )

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or django_timezone.now()) >= self.expires

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK.get(Severity(self.severity), 0)

    @property
    def hazard_labels(self) -> list[str]:
        return [str(Hazard(h).label) for h in self.hazards if h in Hazard.values]

    def info(self, language: str | None = None) -> WarningInfo | None:
        """The texts in ``language`` (default: the active one), else Indonesian, else any."""
        wanted = (language or get_language() or settings.LANGUAGE_CODE).split("-")[0]
        infos = {i.language: i for i in self.infos.all()}
        return (
            infos.get(wanted)
            or infos.get(settings.LANGUAGE_CODE)
            or next(iter(sorted(infos.values(), key=lambda i: i.language)), None)
        )


class WarningInfo(models.Model):
    """A warning's texts in one language (CAP ``<info>``)."""

    warning = models.ForeignKey(
        WeatherWarning, on_delete=models.CASCADE, related_name="infos", verbose_name=_("warning")
    )
    language = models.CharField(_("language"), max_length=8)
    event = models.CharField(_("event"), max_length=250)
    headline = models.CharField(_("headline"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    instruction = models.TextField(_("instruction"), blank=True)
    sender_name = models.CharField(_("sender name"), max_length=200, blank=True)
    web = models.CharField(_("web"), max_length=500, blank=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    source = models.CharField(_("document"), max_length=500, blank=True)
    document_sha256 = models.CharField(_("document SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("warning text")
        verbose_name_plural = _("warning texts")
        ordering = ["warning_id", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["warning", "language"], name="weather_info_one_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.warning_id} [{self.language}] {self.event}"


class WarningArea(models.Model):
    """One CAP ``<area>``: its description, its polygons (rings of [lat, lon], as CAP writes
    them), circles, geocodes, and the region names found for it."""

    warning = models.ForeignKey(
        WeatherWarning, on_delete=models.CASCADE, related_name="areas", verbose_name=_("warning")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    description = models.CharField(_("area description"), max_length=1000, blank=True)
    polygons = models.JSONField(_("polygons"), default=list, blank=True)
    circles = models.JSONField(_("circles"), default=list, blank=True)
    geocodes = models.JSONField(_("geocodes"), default=list, blank=True)
    place_names = models.JSONField(_("regions named"), default=list, blank=True)

    class Meta:
        verbose_name = _("warning area")
        verbose_name_plural = _("warning areas")
        ordering = ["warning_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["warning", "position"], name="weather_area_position")
        ]

    def __str__(self) -> str:
        return self.description or f"area {self.position}"

    @property
    def has_geometry(self) -> bool:
        return bool(self.polygons or self.circles)


class WarningRegion(models.Model):
    """A region a warning concerns: named in its text, or holding a site it covers. The
    warnings a user sees are those about their regions."""

    warning = models.ForeignKey(
        WeatherWarning, on_delete=models.CASCADE, related_name="regions", verbose_name=_("warning")
    )
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("region")
    )
    found_in = models.CharField(_("found in"), max_length=10, choices=FoundIn.choices)

    class Meta:
        verbose_name = _("warning region")
        verbose_name_plural = _("warning regions")
        constraints = [
            models.UniqueConstraint(fields=["warning", "region"], name="weather_region_once")
        ]

    def __str__(self) -> str:
        return f"{self.warning_id} {self.region_id}"


class Reference(models.Model):
    """A ``<references>`` triple of an Update or Cancel; ``target`` is the warning it names
    once that is known (it may arrive after the message that refers to it)."""

    warning = models.ForeignKey(
        WeatherWarning,
        on_delete=models.CASCADE,
        related_name="references",
        verbose_name=_("warning"),
    )
    sender = models.CharField(_("sender"), max_length=200)
    identifier = models.CharField(_("identifier"), max_length=200, db_index=True)
    sent = models.CharField(_("sent"), max_length=60)
    target = models.ForeignKey(
        WeatherWarning,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referenced_by",
        verbose_name=_("refers to"),
    )

    class Meta:
        verbose_name = _("warning reference")
        verbose_name_plural = _("warning references")
        constraints = [
            models.UniqueConstraint(fields=["warning", "identifier"], name="weather_reference_once")
        ]

    def __str__(self) -> str:
        return f"{self.warning_id} -> {self.identifier}"


class WarningSite(UUIDModel):
    """A site a warning covers, and how that was found. ``activated_at`` is when the warning
    came into force there (its people told, ``warning_in_force`` sent); ``notified_severity``
    what they were last told, so that an Update re-notifies only when it is worse."""

    warning = models.ForeignKey(
        WeatherWarning, on_delete=models.CASCADE, related_name="sites", verbose_name=_("warning")
    )
    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        related_name="weather_warnings",
        verbose_name=_("site"),
    )
    matched_by = models.CharField(_("matched by"), max_length=8, choices=MatchedBy.choices)
    area = models.ForeignKey(
        WarningArea,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("area"),
    )
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region named"),
    )
    activated_at = models.DateTimeField(_("in force since"), null=True, blank=True)
    notified_severity = models.CharField(
        _("severity told"), max_length=10, choices=Severity.choices, blank=True
    )
    notified_at = models.DateTimeField(_("people told at"), null=True, blank=True)
    ended_notified_at = models.DateTimeField(_("end told at"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("site under a warning")
        verbose_name_plural = _("sites under warnings")
        ordering = ["warning_id", "site_id"]
        constraints = [
            models.UniqueConstraint(fields=["warning", "site"], name="weather_site_once")
        ]
        indexes = [models.Index(fields=["site", "warning"], name="weather_site_warning")]

    def __str__(self) -> str:
        return f"{self.warning_id} @ {self.site_id}"

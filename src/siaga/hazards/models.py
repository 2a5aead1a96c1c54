"""Sensors, their device tokens, readings as a time series, rules as data with their state, and
the counters of rejected messages."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.alarms.choices import AlarmSeverity
from siaga.core.models import UUIDModel
from siaga.hazards.choices import (
    BOOLEAN_KINDS,
    AlarmKind,
    Channel,
    Direction,
    PayloadFormat,
    RuleKind,
    SensorKind,
    SensorStatus,
)

# A device id is one MQTT topic level: no "/", "+" or "#".
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
device_id_validator = RegexValidator(
    DEVICE_ID_PATTERN,
    _("Letters, digits, dot, dash and underscore only (it is one MQTT topic level)."),
)


class Sensor(UUIDModel):
    """A sensor at a site (and in one of its zones): what it measures, how its firmware writes
    its payload, and what it last said."""

    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="sensors", verbose_name=_("site")
    )
    zone = models.ForeignKey(
        "sites.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sensors",
        verbose_name=_("zone"),
    )
    device_id = models.CharField(
        _("device id"),
        max_length=64,
        validators=[device_id_validator],
        help_text=_("Unique at the site; the <sensor> in siaga/<site>/<sensor>/reading."),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=SensorKind.choices)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    calibration_offset = models.FloatField(
        _("calibration offset"), default=0.0, help_text=_("Added to every numeric value.")
    )
    report_interval_seconds = models.PositiveIntegerField(
        _("expected report interval (seconds)"), default=60
    )
    battery_powered = models.BooleanField(
        _("battery-powered"),
        default=False,
        help_text=_("Reports rarely; declared unavailable after SIAGA_HAZARDS_BATTERY_HOURS."),
    )
    payload_format = models.CharField(
        _("payload format"),
        max_length=12,
        choices=PayloadFormat.choices,
        default=PayloadFormat.SIAGA,
    )
    mapping = models.JSONField(
        _("key mapping"),
        default=dict,
        blank=True,
        help_text=_(
            'Where the firmware puts things, e.g. {"value": "AM2301.Humidity", "at": "Time"}; '
            '"invert": true reads a contact the other way round.'
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    # What it last said (kept in step by the ingestion).
    status = models.CharField(
        _("status"), max_length=12, choices=SensorStatus.choices, default=SensorStatus.NEW
    )
    status_since = models.DateTimeField(_("status since"), default=timezone.now)
    last_value = models.FloatField(_("last value"), null=True, blank=True)
    last_reading_at = models.DateTimeField(_("last reading at"), null=True, blank=True)
    # When the sensor becomes silent if nothing more arrives: the watch job's one indexed query.
    silent_after = models.DateTimeField(_("silent after"), null=True, blank=True, db_index=True)
    # The earliest reading time stored since the last roll-up: the hours to aggregate again.
    rollup_from = models.DateTimeField(_("roll up from"), null=True, blank=True, db_index=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        ordering = ["site_id", "zone_id", "device_id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "device_id"], name="sensor_device_per_site"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} ({self.get_kind_display()})"

    @property
    def is_boolean(self) -> bool:
        return self.kind in BOOLEAN_KINDS

    def clean(self) -> None:
        if self.zone is not None and self.site_id and self.zone.site_id != self.site_id:
            raise ValidationError({"zone": _("This zone belongs to another site.")})
        if not isinstance(self.mapping, dict):
            raise ValidationError({"mapping": _("The mapping is a JSON object.")})
        if self.report_interval_seconds < 1:
            raise ValidationError({"report_interval_seconds": _("At least one second.")})


def hash_device_token(raw: str) -> str:
    # 256 random bits: a plain SHA-256 is enough (as siaga.accounts does for API tokens).
    return hashlib.sha256(raw.encode()).hexdigest()


class DeviceToken(UUIDModel):
    """A bearer token a site's gateway or sensors send readings with; only its hash is kept.
    It reaches that site's sensors and nothing else."""

    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        related_name="device_tokens",
        verbose_name=_("site"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class Reading(models.Model):
    """One raw reading, kept SIAGA_HAZARDS_RAW_DAYS; ``key`` (the reading's id, or the device's
    sequence or time) makes a replay a duplicate instead of a second row."""

    id = models.BigAutoField(primary_key=True)
    sensor = models.ForeignKey(
        Sensor, on_delete=models.CASCADE, related_name="readings", verbose_name=_("sensor")
    )
    at = models.DateTimeField(_("at"))
    value = models.FloatField(_("value"), null=True, blank=True, help_text=_("Empty: unknown."))
    key = models.CharField(_("key"), max_length=80)
    received_at = models.DateTimeField(_("received at"))
    channel = models.CharField(_("channel"), max_length=4, choices=Channel.choices)

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(fields=["sensor", "key"], name="reading_key_per_sensor"),
        ]
        indexes = [
            # Also the purge's: it deletes sensor by sensor (no index on the time alone, one
            # index less to keep up at thousands of inserts a second).
            models.Index(fields=["sensor", "at"], name="reading_sensor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.at:%Y-%m-%d %H:%M:%S} = {self.value}"


class HourlyAggregate(models.Model):
    """Min, max, average and count of one sensor's readings in one hour: kept after the raw
    rows are purged."""

    id = models.BigAutoField(primary_key=True)
    sensor = models.ForeignKey(
        Sensor, on_delete=models.CASCADE, related_name="hours", verbose_name=_("sensor")
    )
    hour = models.DateTimeField(_("hour"))
    count = models.PositiveIntegerField(_("readings"))
    minimum = models.FloatField(_("minimum"), null=True)
    maximum = models.FloatField(_("maximum"), null=True)
    average = models.FloatField(_("average"), null=True)

    class Meta:
        verbose_name = _("hourly aggregate")
        verbose_name_plural = _("hourly aggregates")
        ordering = ["sensor_id", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["sensor", "hour"], name="aggregate_sensor_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.hour:%Y-%m-%d %H}:00 n={self.count}"


class Rule(UUIDModel):
    """A rule as data, on one sensor: created from the defaults of its kind, edited on the
    admin (every change on the ledger). The fields a kind does not use stay empty."""

    sensor = models.ForeignKey(
        Sensor, on_delete=models.CASCADE, related_name="rules", verbose_name=_("sensor")
    )
    kind = models.CharField(_("kind"), max_length=14, choices=RuleKind.choices)
    alarm_kind = models.CharField(_("alarm kind"), max_length=30, choices=AlarmKind.choices)
    severity = models.CharField(
        _("severity"), max_length=10, choices=AlarmSeverity.choices, default=AlarmSeverity.MAJOR
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # threshold
    direction = models.CharField(
        _("direction"), max_length=5, choices=Direction.choices, default=Direction.ABOVE
    )
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    clear_at = models.FloatField(
        _("clears at"),
        null=True,
        blank=True,
        help_text=_("Hysteresis: the alarm clears only past this value (e.g. 75 for 80)."),
    )
    duration_seconds = models.PositiveIntegerField(
        _("for at least (seconds)"), default=0, help_text=_("How long past the threshold.")
    )
    # rate of rise
    rise = models.FloatField(_("rise"), null=True, blank=True, help_text=_("e.g. 8 (°C)."))
    window_seconds = models.PositiveIntegerField(_("within (seconds)"), default=60)
    # trigger
    trigger_value = models.BooleanField(
        _("triggers on"), default=True, help_text=_("Yes: on 1 (wet, smoke, open, on, motion).")
    )
    debounce_seconds = models.FloatField(
        _("debounce (seconds)"),
        default=0.0,
        help_text=_("A change counts only once it has held this long (contacts bounce)."),
    )
    only_when_zone_locked = models.BooleanField(
        _("only while the zone is locked"),
        default=False,
        help_text=_("Locked: nobody is checked in to the zone at the gate."),
    )
    # silent
    intervals = models.PositiveIntegerField(
        _("silent after (intervals)"), default=3, help_text=_("Expected report intervals.")
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "sensor__site__region__code"

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["sensor_id", "kind", "alarm_kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["sensor", "alarm_kind"], name="rule_one_per_alarm_kind_per_sensor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_alarm_kind_display()} ({self.get_kind_display()})"

    def clean(self) -> None:
        if self.kind == RuleKind.THRESHOLD:
            if self.threshold is None:
                raise ValidationError({"threshold": _("A threshold rule needs a threshold.")})
            clear = self.threshold if self.clear_at is None else self.clear_at
            wrong_side = (
                clear > self.threshold if self.direction == "above" else clear < self.threshold
            )
            if wrong_side:
                raise ValidationError(
                    {"clear_at": _("The clearing value lies on the safe side of the threshold.")}
                )
        if self.kind == RuleKind.RATE_OF_RISE and (self.rise is None or self.rise <= 0):
            raise ValidationError({"rise": _("A rate-of-rise rule needs a positive rise.")})
        if self.kind == RuleKind.RATE_OF_RISE and self.window_seconds < 1:
            raise ValidationError({"window_seconds": _("At least one second.")})
        if self.kind == RuleKind.SILENT and self.intervals < 1:
            raise ValidationError({"intervals": _("At least one interval.")})
        if self.debounce_seconds < 0:
            raise ValidationError({"debounce_seconds": _("Not negative.")})

    @property
    def alarm_key(self) -> str:
        return f"sensor:{self.sensor_id}:rule:{self.pk}"


class RuleState(models.Model):
    """What a rule remembers between readings (kept in the database, so a restart keeps it):
    whether its alarm is up, since when its condition holds, a debounced contact's candidate
    value, a rate-of-rise rule's recent points."""

    rule = models.OneToOneField(
        Rule, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    active = models.BooleanField(_("alarm raised"), default=False)
    since = models.DateTimeField(_("condition holds since"), null=True, blank=True)
    value = models.FloatField(_("confirmed value"), null=True, blank=True)
    candidate = models.FloatField(_("candidate value"), null=True, blank=True)
    candidate_since = models.DateTimeField(
        _("candidate since"), null=True, blank=True, db_index=True
    )
    points = models.JSONField(_("recent points"), default=list, blank=True)

    class Meta:
        verbose_name = _("rule state")
        verbose_name_plural = _("rule states")

    def __str__(self) -> str:
        return f"{self.rule_id}: {'active' if self.active else 'quiet'}"


class RejectCounter(models.Model):
    """How many messages were rejected with one code, per site, sensor and channel. The site is
    empty where the topic named no site known here; the device id as the message named it."""

    id = models.BigAutoField(primary_key=True)
    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    site_code = models.CharField(_("site code"), max_length=40, blank=True)
    device_id = models.CharField(_("device id"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=4, choices=Channel.choices)
    code = models.CharField(_("code"), max_length=40)
    count = models.PositiveBigIntegerField(_("count"), default=0)
    first_at = models.DateTimeField(_("first at"))
    last_at = models.DateTimeField(_("last at"))
    last_detail = models.CharField(_("last detail"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "site__region__code"

    class Meta:
        verbose_name = _("rejected-message counter")
        verbose_name_plural = _("rejected-message counters")
        ordering = ["site_code", "device_id", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["site_code", "device_id", "channel", "code"], name="reject_counter_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_code}/{self.device_id} {self.code}: {self.count}"

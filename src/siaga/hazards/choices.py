"""The hazards app's choices: kinds of sensor, payload formats, sensor states, rule kinds and
the stable codes a rejected reading is counted under."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SensorKind(models.TextChoices):
    TEMPERATURE = "temperature", _("Temperature")
    HUMIDITY = "humidity", _("Humidity")
    SMOKE = "smoke", _("Smoke")
    WATER_LEAK = "water_leak", _("Water leak")
    WATER_LEVEL = "water_level", _("Water level")
    DOOR_CONTACT = "door_contact", _("Door contact")
    MAINS_POWER = "mains_power", _("Mains power")
    MOTION = "motion", _("Motion (PIR)")


# Kinds whose value is a yes/no: stored as 1.0 / 0.0. What 1 means, for each:
# smoke detected, water present, door OPEN, mains power ON, motion seen.
BOOLEAN_KINDS = frozenset(
    {
        SensorKind.SMOKE,
        SensorKind.WATER_LEAK,
        SensorKind.DOOR_CONTACT,
        SensorKind.MAINS_POWER,
        SensorKind.MOTION,
    }
)

DEFAULT_UNITS = {
    SensorKind.TEMPERATURE: "°C",
    SensorKind.HUMIDITY: "%",
    SensorKind.WATER_LEVEL: "cm",
}

# What a sensor can physically report (after calibration); anything outside is a broken
# sensor or a forged message, never a reading.
PHYSICAL_RANGE: dict[str, tuple[float, float]] = {
    SensorKind.TEMPERATURE: (-50.0, 150.0),
    SensorKind.HUMIDITY: (0.0, 100.0),
    SensorKind.WATER_LEVEL: (-100.0, 10000.0),
}


class PayloadFormat(models.TextChoices):
    SIAGA = "siaga", _("SIAGA (id, at, value)")
    TASMOTA = "tasmota", _("Tasmota")
    ZIGBEE2MQTT = "zigbee2mqtt", _("Zigbee2MQTT")


class SensorStatus(models.TextChoices):
    NEW = "new", _("No reading yet")
    ONLINE = "online", _("Online")
    SILENT = "silent", _("Silent")
    UNAVAILABLE = "unavailable", _("Unavailable")


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("Threshold (with hysteresis and duration)")
    RATE_OF_RISE = "rate_of_rise", _("Rate of rise")
    TRIGGER = "trigger", _("Trigger (yes/no)")
    SILENT = "silent", _("Sensor silent")


class Direction(models.TextChoices):
    ABOVE = "above", _("above")
    BELOW = "below", _("below")


class Channel(models.TextChoices):
    HTTP = "http", _("HTTP")
    MQTT = "mqtt", _("MQTT")


class RejectCode(models.TextChoices):
    """Why a reading was not stored; each is counted per site, sensor and channel."""

    MALFORMED = "reading_malformed", _("Not a JSON object")
    SENSOR_UNKNOWN = "reading_sensor_unknown", _("No such sensor at this site")
    SENSOR_INACTIVE = "reading_sensor_inactive", _("The sensor is switched off")
    VALUE_MISSING = "reading_value_missing", _("No value where the mapping looks")
    VALUE_INVALID = "reading_value_invalid", _("The value is not a number or yes/no")
    NOT_FINITE = "reading_not_finite", _("NaN or Infinity")
    OUT_OF_RANGE = "reading_out_of_range", _("Physically impossible value")
    TIME_INVALID = "reading_time_invalid", _("The time cannot be read")
    IN_FUTURE = "reading_in_future", _("The time is in the future")
    TOO_OLD = "reading_too_old", _("Older than the raw readings are kept")
    ID_INVALID = "reading_id_invalid", _("The id is not usable")
    DUPLICATE = "reading_duplicate", _("Already stored (a replay)")
    WRONG_SITE = "device_token_wrong_site", _("The device token is for another site")
    BATCH_TOO_LARGE = "readings_batch_too_large", _("Too many readings in one batch")
    TOPIC_INVALID = "reading_topic_invalid", _("The topic is not siaga/<site>/<sensor>/reading")
    FAILED = "reading_failed", _("Could not be stored (logged)")


# Alarm kinds raised by rules (source "hazards"); labels are registered in apps.py.
class AlarmKind(models.TextChoices):
    WATER_LEAK = "water_leak", _("Water leak")
    SMOKE = "smoke", _("Smoke")
    HUMIDITY_HIGH = "humidity_high", _("Humidity too high")
    TEMPERATURE_HIGH = "temperature_high", _("Temperature too high")
    TEMPERATURE_RISE = "temperature_rise", _("Temperature rising fast")
    WATER_LEVEL_HIGH = "water_level_high", _("Water level rising")
    DOOR_OPEN_LOCKED = "door_open_locked", _("Door open while the zone is locked")
    MOTION_LOCKED = "motion_locked", _("Motion while the zone is locked")
    MAINS_POWER_LOST = "mains_power_lost", _("Mains power lost")
    SENSOR_SILENT = "sensor_silent", _("Sensor silent")

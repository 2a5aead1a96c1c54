"""What safety equipment there is, and what can be done to it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EquipmentKind(models.TextChoices):
    FIRE_EXTINGUISHER = "fire_extinguisher", _("Fire extinguisher (APAR)")
    SMOKE_DETECTOR = "smoke_detector", _("Smoke detector")
    WATER_PUMP = "water_pump", _("Water pump")
    LIGHTNING_PROTECTION = "lightning_protection", _("Lightning protection")


class Variant(models.TextChoices):
    """The type of an item; which ones fit which kind is ``VARIANTS``."""

    # APAR, by extinguishing agent
    POWDER = "powder", _("Dry powder")
    CO2 = "co2", _("CO2")
    FOAM = "foam", _("Foam")
    WATER = "water", _("Water")
    # Smoke detectors
    OPTICAL = "optical", _("Optical (photoelectric)")
    IONISATION = "ionisation", _("Ionisation")
    HEAT = "heat", _("Heat (rate of rise)")
    MULTI_SENSOR = "multi_sensor", _("Multi-sensor")
    # Water pumps
    SUBMERSIBLE = "submersible", _("Submersible (drainage)")
    CENTRIFUGAL = "centrifugal", _("Centrifugal")
    FIRE_PUMP = "fire_pump", _("Fire pump (hydrant)")
    # Lightning protection
    CONVENTIONAL_ROD = "conventional_rod", _("Conventional rod (Franklin)")
    EARLY_STREAMER = "early_streamer", _("Early streamer emission (electrostatic)")
    MESH = "mesh", _("Mesh conductor (Faraday)")
    SURGE_ARRESTER = "surge_arrester", _("Surge arrester")


VARIANTS: dict[str, frozenset[str]] = {
    EquipmentKind.FIRE_EXTINGUISHER: frozenset(
        {Variant.POWDER, Variant.CO2, Variant.FOAM, Variant.WATER}
    ),
    EquipmentKind.SMOKE_DETECTOR: frozenset(
        {Variant.OPTICAL, Variant.IONISATION, Variant.HEAT, Variant.MULTI_SENSOR}
    ),
    EquipmentKind.WATER_PUMP: frozenset(
        {Variant.SUBMERSIBLE, Variant.CENTRIFUGAL, Variant.FIRE_PUMP}
    ),
    EquipmentKind.LIGHTNING_PROTECTION: frozenset(
        {
            Variant.CONVENTIONAL_ROD,
            Variant.EARLY_STREAMER,
            Variant.MESH,
            Variant.SURGE_ARRESTER,
        }
    ),
}
# An APAR is recorded with its agent and size; the other kinds may leave their type open.
VARIANT_REQUIRED = frozenset({EquipmentKind.FIRE_EXTINGUISHER})


class EquipmentState(models.TextChoices):
    IN_SERVICE = "in_service", _("In service")
    OUT_OF_SERVICE = "out_of_service", _("Out of service")
    REMOVED = "removed", _("Removed")


class ServiceWork(models.TextChoices):
    INSPECTION = "inspection", _("Inspection")
    TEST = "test", _("Function test")
    REFILL = "refill", _("Refill / recharge")
    REPAIR = "repair", _("Repair")
    REPLACEMENT = "replacement", _("Replacement of a part")


class DueKind(models.TextChoices):
    """The two dates an item can be due on."""

    EXPIRY = "expiry", _("expiry")
    SERVICE = "service", _("next service")


# The alarm kinds this app raises (source "safety"), named in siaga.alarms' console.
ALARM_SOURCE = "safety"
ALARM_EXPIRED = "equipment_expired"
ALARM_SERVICE_OVERDUE = "service_overdue"

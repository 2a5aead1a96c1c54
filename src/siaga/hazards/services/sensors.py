"""Use cases of sensors and device tokens: master data, each change on the ledger."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.hazards import rules
from siaga.hazards.choices import DEFAULT_UNITS, PayloadFormat, SensorKind
from siaga.hazards.models import (
    DEVICE_ID_PATTERN,
    DeviceToken,
    Rule,
    RuleState,
    Sensor,
    hash_device_token,
)
from siaga.hazards.services.ingestion import silent_after
from siaga.incidents.services import acting_unit
from siaga.ledger import services as ledger
from siaga.sites.models import Site, Zone

DEVICE_TOKEN_PREFIX = "sgd_"  # noqa: S105 - a marker, not a secret


def _managed_site(actor: User, site_id: uuid.UUID, *, lock: bool = False) -> Site:
    sites = Site.objects.for_user(actor, Action.VIEW)
    site = (sites.select_for_update() if lock else sites).filter(pk=site_id).first()
    if site is None:
        raise NotFound("site_not_found", _("No such site."), detail={"site": str(site_id)})
    if not user_can(actor, Action.MANAGE_MASTER_DATA, site.region_id):
        raise PermissionDenied(
            "site_out_of_scope",
            _("You may not manage this site's sensors."),
            detail={"site": str(site_id)},
        )
    return site


def _append(what: str, subject: Any, actor: User | None, site: Site, **payload: Any) -> None:
    ledger.append(
        kind=f"hazards.{what}",
        subject=subject,
        actor=actor,
        unit=acting_unit(actor, site.region_id),
        region=site.region_id,
        payload={"site": str(site.pk), **payload},
    )


def add_default_rules(sensor: Sensor) -> list[Rule]:
    """The rules of the sensor's kind, with their empty states (once: a rule per alarm kind)."""
    made = []
    for fields in rules.default_rules(sensor):
        rule, created = Rule.objects.get_or_create(
            sensor=sensor, alarm_kind=fields["alarm_kind"], defaults=fields
        )
        if created:
            RuleState.objects.create(rule=rule)
            made.append(rule)
    if sensor.silent_after is None:
        # A sensor that never reports becomes silent too, counted from its creation.
        sensor.silent_after = silent_after(sensor)
        Sensor.objects.filter(pk=sensor.pk).update(silent_after=sensor.silent_after)
    return made


def create_sensor(
    *,
    actor: User | None,
    site_id: uuid.UUID,
    device_id: str,
    kind: str,
    zone_id: uuid.UUID | None = None,
    id: uuid.UUID | None = None,
    name: str = "",
    unit: str | None = None,
    calibration_offset: float = 0.0,
    report_interval_seconds: int = 60,
    battery_powered: bool = False,
    payload_format: str = PayloadFormat.SIAGA,
    mapping: dict[str, Any] | None = None,
) -> Created[Sensor]:
    """A new sensor with its kind's default rules. ``actor=None`` is the system (the demo)."""
    if kind not in SensorKind.values:
        raise InvalidInput(
            "sensor_kind_unknown",
            _("Unknown kind of sensor."),
            detail={"kind": kind, "allowed": list(SensorKind.values)},
        )
    if payload_format not in PayloadFormat.values:
        raise InvalidInput(
            "sensor_format_unknown",
            _("Unknown payload format."),
            detail={"payload_format": payload_format, "allowed": list(PayloadFormat.values)},
        )
    device_id = device_id.strip()
    if not re.fullmatch(DEVICE_ID_PATTERN, device_id):
        raise InvalidInput(
            "sensor_device_id_invalid",
            _("A device id is 1 to 64 letters, digits, dots, dashes or underscores."),
            detail={"device_id": device_id[:80]},
        )
    if report_interval_seconds < 1 or report_interval_seconds > 7 * 86400:
        raise InvalidInput(
            "sensor_interval_invalid",
            _("The report interval is between 1 second and 7 days."),
        )
    if mapping is not None and not isinstance(mapping, dict):
        raise InvalidInput("sensor_mapping_invalid", _("The key mapping is a JSON object."))
    id = id or uuid.uuid4()
    with transaction.atomic():
        site = (
            _managed_site(actor, site_id, lock=True)
            if actor is not None
            else Site.objects.select_for_update().get(pk=site_id)
        )
        zone = None
        if zone_id is not None:
            zone = Zone.objects.filter(pk=zone_id, site=site).first()
            if zone is None:
                raise InvalidInput("zone_unknown", _("No such zone at this site."))
        wanted = {"site_id": site.pk, "device_id": device_id, "kind": kind}
        existing = Sensor.objects.filter(pk=id).first()
        if existing is not None:
            replay_or_conflict(existing, wanted)
            return Created(existing, False)
        if Sensor.objects.filter(site=site, device_id=device_id).exists():
            raise InvalidInput(
                "sensor_device_id_taken",
                _("This site already has a sensor with this device id."),
                detail={"device_id": device_id},
            )
        try:
            with transaction.atomic():
                sensor = Sensor.objects.create(
                    id=id,
                    site=site,
                    zone=zone,
                    device_id=device_id,
                    kind=kind,
                    name=name.strip()[:100],
                    unit=DEFAULT_UNITS.get(SensorKind(kind), "") if unit is None else unit[:16],
                    calibration_offset=float(calibration_offset),
                    report_interval_seconds=report_interval_seconds,
                    battery_powered=battery_powered,
                    payload_format=payload_format,
                    mapping=mapping or {},
                )
        except IntegrityError:
            raise InvalidInput(
                "sensor_device_id_taken",
                _("This site already has a sensor with this device id."),
                detail={"device_id": device_id},
            ) from None
        made = add_default_rules(sensor)
        _append(
            "sensor.created",
            sensor,
            actor,
            site,
            device_id=device_id,
            sensor_kind=kind,
            zone=str(zone.pk) if zone else None,
            rules=[r.alarm_kind for r in made],
        )
    return Created(sensor, True)


def issue_device_token(
    *, actor: User | None, site_id: uuid.UUID, name: str
) -> tuple[DeviceToken, str]:
    """A token for one site's devices; the raw value is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("token_name_invalid", _("Give the token a name of 1 to 100 characters."))
    raw = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        site = _managed_site(actor, site_id) if actor is not None else Site.objects.get(pk=site_id)
        token = DeviceToken.objects.create(
            site=site,
            name=name,
            prefix=raw[:10],
            key_hash=hash_device_token(raw),
            created_by=actor,
        )
        _append("device_token.issued", token, actor, site, prefix=token.prefix, name=name)
    return token, raw


def revoke_device_token(*, actor: User, token_id: uuid.UUID) -> DeviceToken:
    """Revoked at once; revoking again changes nothing."""
    with transaction.atomic():
        token = (
            DeviceToken.objects.for_user(actor, Action.VIEW)
            .select_for_update()
            .select_related("site")
            .filter(pk=token_id)
            .first()
        )
        if token is None:
            raise NotFound("device_token_not_found", _("No such device token."))
        _managed_site(actor, token.site_id)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        _append("device_token.revoked", token, actor, token.site, prefix=token.prefix)
    return token


def device_token_for(raw: str) -> DeviceToken | None:
    """The usable token behind a bearer value (with its site), marking it used."""
    if not raw.startswith(DEVICE_TOKEN_PREFIX):
        return None
    try:
        token = DeviceToken.objects.select_related("site__region").get(
            key_hash=hash_device_token(raw)
        )
    except DeviceToken.DoesNotExist:
        return None
    if token.revoked_at is not None or not token.site.active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        DeviceToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token

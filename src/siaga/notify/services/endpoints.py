"""Endpoints: a person's e-mail addresses and Telegram chats, a unit's webhooks."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import AgencyUnit, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.ids import uuid7
from siaga.ledger import services as ledger
from siaga.notify.channels import is_private_host
from siaga.notify.choices import PERSONAL_CHANNELS, Channel, EndpointChannel
from siaga.notify.models import MAX_ENDPOINT_TIMEOUT, Endpoint

logger = logging.getLogger("siaga.notify")


TELEGRAM_CHAT_ID_MAX = 2**63

_webhook_url = URLValidator(schemes=["http", "https"])


def _address_invalid(channel: str, message: Any) -> InvalidInput:
    return InvalidInput("endpoint_address_invalid", message, detail={"channel": channel})


def normalize_address(channel: str, address: str) -> str:
    """The address in its stored form, or ``InvalidInput("endpoint_address_invalid")``."""
    address = (address or "").strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            raise _address_invalid(channel, _("This is not an e-mail address.")) from None
        local, _at, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    if channel == Channel.TELEGRAM:
        digits = address[1:] if address.startswith("-") else address
        # ASCII digits only; str.isdigit() would take other scripts' digits too.
        if not (digits and digits.isascii() and digits.isdigit()) or (
            abs(int(address)) >= TELEGRAM_CHAT_ID_MAX
        ):
            raise _address_invalid(
                channel, _("A Telegram chat id is a whole number, such as 123456789 or -100123.")
            )
        return str(int(address))
    if channel == Channel.WEBHOOK:
        try:
            if len(address) > 500:
                raise ValidationError("too long")
            _webhook_url(address)
        except ValidationError:
            raise _address_invalid(
                channel, _("A webhook is an http:// or https:// URL of at most 500 characters.")
            ) from None
        if not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE and is_private_host(
            urlsplit(address).hostname or ""
        ):
            raise InvalidInput(
                "endpoint_address_private",
                _("A webhook must be on a public address, not this machine or a private network."),
                detail={"channel": channel},
            )
        return address
    raise InvalidInput(
        "endpoint_channel_unknown", _("Unknown channel."), detail={"channel": channel}
    )


def _origin(url: str) -> str:
    """Scheme and host of a webhook, for the ledger: paths and queries may hold tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def add_endpoint(
    *,
    actor: User,
    channel: str,
    address: str,
    unit_id: int | None = None,
    timeout: float | None = None,
    id: uuid.UUID | None = None,
) -> Created[Endpoint]:
    """A person adds their own e-mail or Telegram chat; an admin adds a webhook of a unit.

    A webhook gets a fresh signing secret (``endpoint.secret``), for the caller to show once.
    """
    if channel not in EndpointChannel.values:
        raise InvalidInput(
            "endpoint_channel_unknown", _("Unknown channel."), detail={"channel": channel}
        )
    address = normalize_address(channel, address)
    unit: AgencyUnit | None = None
    if channel in PERSONAL_CHANNELS:
        if unit_id is not None:
            raise InvalidInput(
                "endpoint_unit_not_allowed",
                _("E-mail and Telegram endpoints are personal; only a webhook belongs to a unit."),
            )
        if timeout is not None:
            raise InvalidInput("endpoint_timeout_invalid", _("Only a webhook has a timeout."))
        fields: dict[str, Any] = {
            "channel": channel,
            "address": address,
            "user_id": actor.pk,
            "unit_id": None,
            "timeout": None,
        }
    else:
        if unit_id is None:
            raise InvalidInput("endpoint_unit_required", _("A webhook belongs to an agency unit."))
        unit = AgencyUnit.objects.filter(pk=unit_id).first()
        if unit is None or not user_can(actor, Action.VIEW, unit.region_id):
            raise InvalidInput("unit_unknown", _("No such agency unit."), detail={"unit": unit_id})
        if not user_can(actor, Action.MANAGE_MASTER_DATA, unit.region_id):
            raise PermissionDenied(
                "unit_out_of_scope",
                _("You may not manage this unit's webhooks."),
                detail={"unit": unit_id},
            )
        if timeout is not None and not 0 < timeout <= MAX_ENDPOINT_TIMEOUT:
            raise InvalidInput(
                "endpoint_timeout_invalid",
                _("A webhook's timeout is more than 0 and at most %(max)s seconds.")
                % {"max": int(MAX_ENDPOINT_TIMEOUT)},
            )
        fields = {
            "channel": channel,
            "address": address,
            "user_id": None,
            "unit_id": unit.pk,
            "timeout": timeout,
        }
    endpoint_id = id or uuid7()
    with transaction.atomic():
        existing = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        owner = {"user_id": actor.pk} if unit is None else {"unit_id": unit.pk}
        taken = Endpoint.objects.filter(
            **owner, channel=channel, address=address, active=True
        ).exists()
        if taken:
            raise Conflict(
                "endpoint_exists",
                _("This address is already an endpoint."),
                detail={"channel": channel},
            )
        secret = secrets.token_hex(32) if channel == Channel.WEBHOOK else ""
        try:
            with transaction.atomic():
                endpoint = Endpoint.objects.create(id=endpoint_id, secret=secret, **fields)
        except IntegrityError:
            raise Conflict(
                "endpoint_exists",
                _("This address is already an endpoint."),
                detail={"channel": channel},
            ) from None
        if unit is not None:
            # Where a unit's alarms flow is security configuration: the ledger records it,
            # without the secret or the URL's path.
            ledger.append(
                kind="notify.webhook_added",
                subject=endpoint,
                actor=actor,
                unit=unit,
                region=unit.region_id,
                payload={"unit": unit.name, "origin": _origin(address)},
            )
    return Created(endpoint, created=True)


def remove_endpoint(*, actor: User, endpoint_id: uuid.UUID) -> Endpoint:
    """Deactivate an endpoint; its pending messages become dead letters when next due."""
    with transaction.atomic():
        found = Endpoint.objects.manageable_by(actor).filter(pk=endpoint_id).first()
        if found is None:
            raise NotFound(
                "endpoint_not_found", _("No such endpoint."), detail={"endpoint": str(endpoint_id)}
            )
        endpoint = (
            Endpoint.objects.select_for_update(of=("self",)).select_related("unit").get(pk=found.pk)
        )
        if not endpoint.active:
            return endpoint
        endpoint.active = False
        endpoint.save(update_fields=["active", "updated_at"])
        if endpoint.unit is not None:
            ledger.append(
                kind="notify.webhook_removed",
                subject=endpoint,
                actor=actor,
                unit=endpoint.unit,
                region=endpoint.unit.region_id,
                payload={"unit": endpoint.unit.name, "origin": _origin(endpoint.address)},
            )
    return endpoint

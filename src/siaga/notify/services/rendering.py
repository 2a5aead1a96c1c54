"""The snapshot a sending thread works from: a claimed message rendered in its recipient's
language, with its endpoint's address and secret read beforehand (threads never touch the
database).
"""

from __future__ import annotations

import logging
import os
import socket

from siaga.notify.channels import DeliveryError, Outgoing
from siaga.notify.models import Message

logger = logging.getLogger("siaga.notify")


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def outgoing(message: Message) -> Outgoing:
    endpoint = message.endpoint
    assert endpoint is not None
    title, body = message.rendered()
    return Outgoing(
        id=message.id,
        endpoint_id=endpoint.pk,
        channel=message.channel,
        address=endpoint.address,
        secret=endpoint.secret,
        timeout=endpoint.timeout,
        endpoint_active=endpoint.active,
        kind=message.kind,
        title=title,
        body=body,
        url=message.url,
        data=message.data,
        about_type=message.about_type,
        about_id=message.about_id,
        count=message.count,
        created_at=message.created_at,
        attempts=message.attempts,
        lease_owner=message.lease_owner,
        language=message.language,
        delivery_key=endpoint.delivery_key,
        possible_repeat=message.possible_repeat,
        lease_until=message.lease_until,
    )


Outcome = tuple[Outgoing, DeliveryError | None]


# The name the rest of the package used before the split.
_outgoing = outgoing

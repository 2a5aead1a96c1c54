"""The privacy tests reuse the gate's cast (tests/access/conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.utils import timezone

from siaga.access import services
from siaga.access.models import Visit
from siaga.accounts.models import User
from siaga.sites.models import Site
from tests.access.conftest import gate

__all__ = ["gate", "post", "register"]


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def register(
    actor: User,
    site: Site,
    *,
    nik: str,
    name: str,
    organisation: str = "",
    phone: str = "",
) -> Visit:
    """A visit of ``nik`` at ``site`` now, registered by ``actor`` (who hosts it)."""
    return services.register_visit(
        actor=actor,
        person=services.PersonData(nik=nik, name=name, organisation=organisation, phone=phone),
        site_id=site.pk,
        zone_ids=[],
        purpose="meeting",
        host_id=None,
        planned_end=timezone.now() + dt.timedelta(hours=2),
    ).obj

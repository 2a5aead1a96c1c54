"""The weather panel of the site safety page (``siaga.safety``), registered by the app's
``ready`` as ``{"weather": context(site, user)}`` for ``weather/_safety_panel.html``.

It holds the warnings in force on the site with their preventive steps, and whether the feeds
are fresh (a stale feed is said, so old warnings are not taken as current)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.sites.models import Site
from siaga.weather import selectors


def context(site: Site, user: Any, *, now: datetime | None = None) -> dict[str, Any] | None:
    """``None`` when the user may not see the site; otherwise the panel's data:
    ``site``, ``warnings`` (each: ``warning``, ``info``, ``coverage``, ``steps``),
    ``feeds`` (a ``FeedStatus``) and ``now``."""
    if not user_can(user, Action.VIEW, site.region_id):
        return None
    now = now or timezone.now()
    return {
        "site": site,
        "warnings": selectors.on_site(site, now),
        "feeds": selectors.feed_status(now),
        "now": now,
    }

"""What the pages, the API and the site safety panel read: warnings in force in a user's scope,
the sites each covers there, and whether the feeds are fresh enough to trust."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from siaga.accounts.permissions import Action
from siaga.sites.models import Site
from siaga.weather.choices import Freshness
from siaga.weather.models import Feed, WarningSite, WeatherWarning, WeatherWarningQuerySet
from siaga.weather.steps import translated_steps

RECENT_HOURS = 48


@dataclass
class FeedStatus:
    """The polled feeds and how fresh they are, as one line for a page: warnings shown are only
    as current as the oldest feed's last update."""

    feeds: list[Feed]
    now: datetime
    stale_hours: int = field(default_factory=lambda: settings.WEATHER_STALE_HOURS)

    @property
    def configured(self) -> bool:
        return bool(self.feeds)

    @property
    def state(self) -> str:
        if not self.feeds:
            return ""
        states = {feed.freshness(self.now) for feed in self.feeds}
        if Freshness.NEVER in states:
            return Freshness.NEVER
        return Freshness.STALE if Freshness.STALE in states else Freshness.FRESH

    @property
    def fresh(self) -> bool:
        return self.state == Freshness.FRESH

    @property
    def last_update(self) -> datetime | None:
        """The oldest of the feeds' last updates (the one that makes the page least current)."""
        known = [feed.last_update for feed in self.feeds if feed.last_update is not None]
        return min(known) if known else None

    @property
    def stale_feeds(self) -> list[Feed]:
        return [f for f in self.feeds if f.freshness(self.now) != Freshness.FRESH]

    def as_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "state": self.state,
            "fresh": self.fresh,
            "last_update": self.last_update,
            "stale_after_hours": self.stale_hours,
        }


def feed_status(now: datetime | None = None) -> FeedStatus:
    return FeedStatus(feeds=list(Feed.objects.filter(polled=True)), now=now or timezone.now())


def visible_warnings(user: Any) -> WeatherWarningQuerySet:
    return WeatherWarning.objects.for_user(user, Action.VIEW).prefetch_related("infos")


def visible_coverage(user: Any) -> QuerySet[WarningSite]:
    return WarningSite.objects.for_user(user, Action.VIEW).select_related("site", "site__region")


SITES_SHOWN = 30


def in_force(user: Any, now: datetime | None = None) -> list[WeatherWarning]:
    """Warnings in force in the user's scope, worst first, each with ``covered``: the first
    of its sites that the user may see, and ``covered_count``: how many they are."""
    now = now or timezone.now()
    warnings = list(
        visible_warnings(user)
        .in_force(now)
        .prefetch_related(
            Prefetch(
                "sites",
                queryset=visible_coverage(user).order_by("site__name")[:SITES_SHOWN],
                to_attr="covered",
            )
        )
    )
    counts = dict(
        visible_coverage(user)
        .filter(warning__in=[w.pk for w in warnings])
        .values_list("warning")
        .annotate(n=Count("id"))
        .values_list("warning", "n")
    )
    for warning in warnings:
        warning.covered_count = counts.get(warning.pk, 0)
    return sorted(warnings, key=lambda w: (-w.severity_rank, w.expires))


def recent(user: Any, now: datetime | None = None, *, limit: int = 20) -> list[WeatherWarning]:
    """Warnings of the last two days that are no longer in force (expired, replaced, cancelled)."""
    now = now or timezone.now()
    current = WeatherWarning.objects.in_force(now).values("pk")
    return list(
        visible_warnings(user)
        .filter(sent__gte=now - timedelta(hours=RECENT_HOURS))
        .exclude(pk__in=current)
        .order_by("-sent")[:limit]
    )


def on_site(site: Site, now: datetime | None = None) -> list[dict[str, Any]]:
    """The warnings in force on one site, each with its texts and preventive steps."""
    now = now or timezone.now()
    covered = (
        WarningSite.objects.filter(site=site, warning__in=WeatherWarning.objects.in_force(now))
        .select_related("warning", "area")
        .prefetch_related("warning__infos")
        .order_by("warning__expires")
    )
    return [
        {
            "warning": c.warning,
            "info": c.warning.info(),
            "coverage": c,
            "steps": translated_steps(c.warning.hazards),
        }
        for c in sorted(covered, key=lambda c: -c.warning.severity_rank)
    ]

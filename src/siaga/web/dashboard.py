"""The commander's first screen: what is open now, and what happened since yesterday evening.

Everything is read through the scoped managers (``for_user(user, VIEW)``), like every other page:
a commander of one kabupaten sees nothing of the next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import F, QuerySet
from django.utils import timezone

from siaga.access.choices import VisitState
from siaga.access.models import Visit
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.alarms.models import Alarm
from siaga.incidents.choices import OPEN_STATES
from siaga.incidents.models import Incident
from siaga.logistics.choices import HandoverState
from siaga.logistics.models import Discrepancy, Handover

# How many open incidents and active alarms the first screen lists; the rest are a link away.
LIST_LENGTH = 10
# "Since yesterday evening": the night shift's report starts at 18:00 local time.
EVENING = time(18, 0)


def yesterday_evening(now: datetime) -> datetime:
    """18:00 yesterday in the current time zone (the person's, or the deployment's)."""
    local = timezone.localtime(now)
    day = local.date() - timedelta(days=1)
    return datetime.combine(day, EVENING, tzinfo=local.tzinfo)


@dataclass(frozen=True)
class SinceEvening:
    since: datetime
    incidents_reported: int
    alarms_raised: int
    gate_refusals: int
    discrepancies_opened: int


def open_incidents(user: User) -> QuerySet[Incident]:
    return Incident.objects.for_user(user, Action.VIEW).filter(state__in=OPEN_STATES)


def active_alarms(user: User) -> QuerySet[Alarm]:
    return Alarm.objects.for_user(user, Action.VIEW).filter(active=True)


def newest_open_incidents(user: User) -> list[Incident]:
    return list(
        open_incidents(user)
        .select_related("site", "zone", "region")
        .order_by("-reported_at")[:LIST_LENGTH]
    )


def newest_active_alarms(user: User) -> list[Alarm]:
    return list(
        active_alarms(user)
        .select_related("site", "zone", "acknowledged_by")
        .order_by("-first_raised_at")[:LIST_LENGTH]
    )


def since_yesterday_evening(user: User, now: datetime | None = None) -> SinceEvening:
    """What the night brought. A gate refusal is a visit the host or a commissioner denied: a
    check-in the gate refuses writes nothing (a refused action leaves no row), so it cannot be
    counted."""
    since = yesterday_evening(now or timezone.now())
    return SinceEvening(
        since=since,
        incidents_reported=Incident.objects.for_user(user, Action.VIEW)
        .filter(reported_at__gte=since)
        .count(),
        alarms_raised=Alarm.objects.for_user(user, Action.VIEW)
        .filter(first_raised_at__gte=since)
        .count(),
        gate_refusals=Visit.objects.for_user(user, Action.VIEW)
        .filter(state=VisitState.DENIED, decided_at__gte=since)
        .count(),
        discrepancies_opened=Discrepancy.objects.for_user(user, Action.VIEW)
        .filter(raised_at__gte=since)
        .count(),
    )


def on_their_way(user: User) -> list[Handover]:
    """BASTs dispatched to a site where the user may receive them, soonest expected first (one
    with no expected arrival last)."""
    return list(
        Handover.objects.for_user(user, Action.SIGN_HANDOVER)
        .filter(state=HandoverState.DISPATCHED)
        .select_related("from_site", "to_site")
        .order_by(F("expected_at").asc(nulls_last=True), "dispatched_at")[:LIST_LENGTH]
    )

"""Validators that every app shares: a vehicle plate, and a date within an election's window.

One of each, so a plate refused at the gate is refused on a BAST too, with the same code."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import InvalidInput

# Indonesian plates: area letters, number, suffix letters ("BG 1234 AB", "B 1 RI").
_PLATE = re.compile(r"^([A-Z]{1,2}) ?(\d{1,4}) ?([A-Z]{0,3})$")


def normalise_plate(raw: str, *, field: str = "vehicle_plate") -> str:
    """A vehicle plate as "BG 1234 AB" ("" when none is given), or ``plate_invalid``."""
    compact = re.sub(r"[\s.-]+", " ", (raw or "").strip().upper())
    if not compact:
        return ""
    match = _PLATE.match(compact.replace(" ", "")) or _PLATE.match(compact)
    if match is None:
        raise InvalidInput(
            "plate_invalid",
            _("This is not an Indonesian vehicle plate (e.g. BG 1234 AB)."),
            detail={"field": field},
        )
    return " ".join(part for part in match.groups() if part)


def election_window(voting_day: dt.date) -> tuple[dt.date, dt.date]:
    """The days an election's logistics can happen on: from
    ``SIAGA_LOGISTICS_WINDOW_BEFORE_DAYS`` before voting day (printing and deliveries) to
    ``SIAGA_LOGISTICS_WINDOW_AFTER_DAYS`` after it (returns, destruction)."""
    return (
        voting_day - dt.timedelta(days=settings.LOGISTICS_WINDOW_BEFORE_DAYS),
        voting_day + dt.timedelta(days=settings.LOGISTICS_WINDOW_AFTER_DAYS),
    )


def check_in_window(
    value: dt.date | dt.datetime, voting_day: dt.date, *, field: str
) -> dt.date | dt.datetime:
    """``value`` itself, or ``date_out_of_range`` when it lies outside the election's window
    (0001-01-01 and 9999-12-31 are typing slips, not logistics)."""
    first, last = election_window(voting_day)
    day = value.date() if isinstance(value, dt.datetime) else value
    if not first <= day <= last:
        raise InvalidInput(
            "date_out_of_range",
            _("This date lies outside the election's logistics window (%(first)s to %(last)s).")
            % {"first": first.isoformat(), "last": last.isoformat()},
            detail={"field": field, "first": first.isoformat(), "last": last.isoformat()},
        )
    return value


def since_param(raw: str | None) -> dt.datetime | None:
    """A list's "since" filter from a link (the dashboard's "since yesterday evening"): an ISO
    moment, read in the current time zone when it names none; anything else filters nothing,
    so a hand-edited address narrows nothing rather than failing."""
    try:
        moment = parse_datetime((raw or "").strip()[:40])
    except ValueError:
        return None
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

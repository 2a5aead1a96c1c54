"""What the people at a site do when a warning is in force there: the preventive steps.

Kept as msgids (``gettext_noop``), translated where they are shown (the pages with
``{% translate %}``, the notifications as ``siaga.core.i18n`` trees), so each reader gets them
in their own language. The inspections capability that follows may turn them into a
checklist (see ``siaga.weather.signals.warning_in_force``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext, gettext_noop

from siaga.core import i18n
from siaga.weather.choices import Hazard

RAIN = [
    gettext_noop("Cover every stack of logistics with tarpaulins, tied down."),
    gettext_noop("Clear the gutters, downpipes and drains around the building."),
    gettext_noop(
        "Nothing on the floor: cartons and ballot boxes on pallets, raised above any water."
    ),
    gettext_noop("Check the roof and the walls for leaks; move logistics away from any drip."),
]
WIND = [
    gettext_noop("Close and latch doors and windows; tie down loose roof sheets and tarpaulins."),
    gettext_noop("Bring in or secure anything in the yard that the wind can lift."),
]
LIGHTNING = [
    gettext_noop("Unplug equipment that is not needed; check the lightning protection."),
]
FLOOD = [
    gettext_noop("Move logistics to the highest floor or a raised platform before the water."),
    gettext_noop("Keep the route to move logistics out clear; know where they would go."),
]
WAVES = [
    gettext_noop("Hold crossings by boat; logistics wait on land until the sea is calm."),
]
GENERAL = [
    gettext_noop("Keep the guard on alert and report any damage at once as an incident."),
]

STEPS: dict[str, list[str]] = {
    Hazard.HEAVY_RAIN: RAIN,
    Hazard.HAIL: RAIN,
    Hazard.THUNDERSTORM: RAIN + LIGHTNING,
    Hazard.STRONG_WIND: WIND,
    Hazard.FLOOD: FLOOD + RAIN,
    Hazard.HIGH_WAVES: WAVES,
    Hazard.OTHER: [],
}

# Words of BMKG's events (Indonesian and English) and the hazard each names.
EVENT_WORDS: list[tuple[str, str]] = [
    ("hujan es", Hazard.HAIL),
    ("hail", Hazard.HAIL),
    ("hujan", Hazard.HEAVY_RAIN),
    ("rain", Hazard.HEAVY_RAIN),
    ("angin", Hazard.STRONG_WIND),
    ("wind", Hazard.STRONG_WIND),
    ("puting beliung", Hazard.STRONG_WIND),
    ("petir", Hazard.THUNDERSTORM),
    ("kilat", Hazard.THUNDERSTORM),
    ("lightning", Hazard.THUNDERSTORM),
    ("thunder", Hazard.THUNDERSTORM),
    ("banjir", Hazard.FLOOD),
    ("flood", Hazard.FLOOD),
    ("gelombang", Hazard.HIGH_WAVES),
    ("wave", Hazard.HIGH_WAVES),
]


def hazards_of(*events: str) -> list[str]:
    """The hazards an event names: "Hujan Lebat disertai Petir" -> heavy rain, thunderstorm."""
    text = " ".join(events).lower()
    found: list[str] = []
    for word, hazard in EVENT_WORDS:
        if word in text and hazard not in found:
            only_hail = text.count("hujan") == text.count("hujan es")
            if hazard == Hazard.HEAVY_RAIN and Hazard.HAIL in found and only_hail:
                continue
            found.append(hazard)
    return found or [Hazard.OTHER]


def steps_for(hazards: Iterable[str]) -> list[str]:
    """The steps' msgids, each once, in order; the general one last."""
    steps: list[str] = []
    for hazard in hazards:
        for step in STEPS.get(hazard, []):
            if step not in steps:
                steps.append(step)
    return [*steps, *GENERAL]


def translated_steps(hazards: Iterable[str]) -> list[str]:
    return [gettext(step) for step in steps_for(hazards)]


def steps_text(hazards: Iterable[str]) -> dict[str, object]:
    """The steps as one translatable tree: a line each, a dash before it."""
    return i18n.lines(
        *(i18n.text(gettext_noop("- %(step)s"), step=i18n.text(s)) for s in steps_for(hazards))
    )

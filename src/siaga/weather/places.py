"""Finding the regions a warning names in its text.

BMKG names the kecamatan only in prose ("… di wilayah Sumatera Selatan: Martapura, Bunga
Mayang (Kab. OKU Timur) dan dapat meluas ke wilayah Belitang …"). The names are matched
against ``siaga.regions``:

- case, accents and punctuation are ignored, and so are the words that only say what kind of
  region follows (``Kab.``, ``Kabupaten``, ``Kota``, ``Kec.``, ``Kecamatan``, ``Provinsi``…);
- a kabupaten or province is also known by the short form BMKG writes ("OKU Timur" for Ogan
  Komering Ulu Timur, "PALI", "DKI Jakarta"): the initials of its first words;
- a kind word just before a name picks among regions of that name ("Kab. Muara Enim" is the
  kabupaten, not its kecamatan Muara Enim; "Kab. Banjar" is not Kota Banjar);
- the longest name wins where names overlap, so "Belitang II" is not also "Belitang", and
  "OKU Timur" is not also "OKU";
- a name is looked for only in the provinces the text names (Martapura is a kecamatan of OKU
  Timur and of Banjar in Kalimantan Selatan); a text that names no province is read against
  the whole country, and a kecamatan name found in several kabupaten is then kept only where
  the text names its kabupaten too.

The outcome per kabupaten: the kecamatan named in it, or — if the text names the kabupaten
and none of its kecamatan — the whole kabupaten. A province alone covers nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from siaga.regions.choices import RegionLevel
from siaga.regions.models import Region

KIND_WORDS = frozenset(
    {
        "kab",
        "kabupaten",
        "kota",
        "kec",
        "kecamatan",
        "prov",
        "provinsi",
        "propinsi",
        "distrik",
        "kel",
        "kelurahan",
        "desa",
        "wilayah",
        "regency",
        "city",
        "district",
        "province",
    }
)
MAX_WORDS = 6


# The kind a word just before a name says it is: "Kab. Muara Enim" is the kabupaten, not
# its kecamatan of the same name.
KIND_HINTS: dict[str, tuple[str, ...]] = {
    "kab": ("kabupaten",),
    "kabupaten": ("kabupaten",),
    "kota": ("kota",),
    "kec": ("kecamatan", "distrik"),
    "kecamatan": ("kecamatan", "distrik"),
    "distrik": ("kecamatan", "distrik"),
    "prov": ("provinsi",),
    "provinsi": ("provinsi",),
    "propinsi": ("provinsi",),
}


def tokens_of(text: str) -> tuple[list[str], list[str]]:
    """Lower-case ASCII words with the region-kind words dropped, and beside each word the
    kind word that came just before it ("" when none)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words: list[str] = []
    hints: list[str] = []
    pending = ""
    for token in re.findall(r"[a-z0-9]+", plain.lower()):
        if token in KIND_WORDS:
            pending = token
            continue
        words.append(token)
        hints.append(pending)
        pending = ""
    return words, hints


def words_of(text: str) -> list[str]:
    """Lower-case ASCII words; the region-kind words are dropped."""
    return tokens_of(text)[0]


def normalise(name: str) -> str:
    return " ".join(words_of(name))


def short_forms(name: str) -> set[str]:
    """ "ogan komering ulu timur" -> {"oku timur", "okut", "ok ulu timur"}: BMKG's way of
    writing long kabupaten names. Only forms of three letters or more."""
    words = normalise(name).split()
    forms = set()
    for cut in range(2, len(words) + 1):
        initials = "".join(w[0] for w in words[:cut])
        if len(initials) < 3 and cut == len(words):
            continue
        form = " ".join([initials, *words[cut:]])
        if len(form.replace(" ", "")) >= 3 and form != " ".join(words):
            forms.add(form)
    return forms


@dataclass(frozen=True)
class Found:
    code: str
    level: int
    name: str
    kind: str = ""


def _index(regions: Iterable[tuple[str, str, int, str]]) -> dict[str, list[Found]]:
    index: dict[str, list[Found]] = defaultdict(list)
    for code, name, level, kind in regions:
        found = Found(code, level, name, kind)
        keys = {normalise(name)}
        if level in (RegionLevel.PROVINSI, RegionLevel.KABUPATEN_KOTA):
            keys |= short_forms(name)
        for key in keys:
            if key and len(key.split()) <= MAX_WORDS:
                index[key].append(found)
    return index


def _scan(words: list[str], hints: list[str], index: dict[str, list[Found]]) -> list[list[Found]]:
    """Each place named, longest first where names overlap: a list of candidates per name
    (only those of the kind a word before it names, when it names one they have)."""
    hits: list[list[Found]] = []
    position = 0
    while position < len(words):
        for size in range(min(MAX_WORDS, len(words) - position), 0, -1):
            key = " ".join(words[position : position + size])
            if key in index:
                candidates = index[key]
                kinds = KIND_HINTS.get(hints[position], ())
                hinted = [f for f in candidates if f.kind in kinds]
                hits.append(hinted or candidates)
                position += size
                break
        else:
            position += 1
    return hits


def _regions(level: int, prefixes: list[str] | None) -> list[tuple[str, str, int, str]]:
    rows = Region.objects.filter(level=level, active=True)
    if prefixes:
        from siaga.regions.codes import subtree_q

        rows = rows.filter(subtree_q("code", prefixes))
    return list(rows.values_list("code", "name", "level", "kind"))


def find_regions(*texts: str) -> list[Found]:
    """The kecamatan and kabupaten the texts name, as explained above."""
    words, hints = tokens_of(" ".join(t for t in texts if t))
    if not words:
        return []
    province_index = _index(_regions(RegionLevel.PROVINSI, None))
    provinces = {f.code for hit in _scan(words, hints, province_index) for f in hit}
    within = sorted(provinces) or None
    lower = _regions(RegionLevel.KABUPATEN_KOTA, within) + _regions(RegionLevel.KECAMATAN, within)
    hits = _scan(words, hints, _index(lower))
    kabupaten_named = {f.code for hit in hits for f in hit if f.level == RegionLevel.KABUPATEN_KOTA}
    kecamatan: dict[str, Found] = {}
    for hit in hits:
        candidates = [f for f in hit if f.level == RegionLevel.KECAMATAN]
        if not candidates:
            continue
        if within is None or len(candidates) > 1:
            # An ambiguous name counts where the text names its kabupaten too; with no
            # province named, that is also how a lone name is trusted.
            narrowed = [f for f in candidates if f.code.rsplit(".", 1)[0] in kabupaten_named]
            if narrowed or within is None:
                candidates = narrowed
        for found in candidates:
            kecamatan[found.code] = found
    by_kabupaten = {code.rsplit(".", 1)[0] for code in kecamatan}
    found_kabupaten: list[Found] = []
    for hit in hits:
        candidates = [f for f in hit if f.level == RegionLevel.KABUPATEN_KOTA]
        if any(f.code in by_kabupaten for f in candidates):
            continue  # the name is that kabupaten's, whose kecamatan the text lists
        if len(candidates) > 1 and within is None:
            continue  # "Banjar" with no province: Kabupaten Banjar or Kota Banjar
        found_kabupaten.extend(candidates)
    unique = {f.code: f for f in [*kecamatan.values(), *found_kabupaten]}
    return sorted(unique.values(), key=lambda f: f.code)


def provinces_named(*texts: str) -> list[str]:
    words, hints = tokens_of(" ".join(t for t in texts if t))
    index = _index(_regions(RegionLevel.PROVINSI, None))
    return sorted({f.code for hit in _scan(words, hints, index) for f in hit})

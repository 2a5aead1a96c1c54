"""The Pemilu 2024 catalogue and its need rules, as data: ``seed_catalogue`` writes them for an
election (2024, or the next one, which then edits its own rows).

Sources: PKPU 2023 on election logistics as reported — five ballot kinds in their colours, DPT
plus a 2% reserve per TPS, 1,000 re-vote ballots per kind per electoral district, five ballot
boxes (four in DKI Jakarta, which elects no DPRD Kabupaten/Kota) and four booths per TPS. Until
electoral-district (dapil) data is loaded, a kabupaten/kota stands for the district.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from siaga.logistics.choices import ItemCategory, NeedBasis

DKI_JAKARTA = "31"


@dataclass(frozen=True)
class Rule:
    basis: str
    quantity: int
    reserve_percent: Decimal = Decimal(0)
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    category: str
    colour: str = ""
    unit: str = "buah"
    rules: tuple[Rule, ...] = field(default=())


def _ballot(code: str, name: str, colour: str, excluded: tuple[str, ...] = ()) -> Item:
    return Item(
        code=code,
        name=f"Surat suara {name}",
        category=ItemCategory.BALLOT,
        colour=colour,
        unit="lembar",
        rules=(
            Rule(NeedBasis.PER_VOTER, 1, Decimal(2), excluded),
            Rule(NeedBasis.PER_DISTRICT, 1000, excluded=excluded),
        ),
    )


CATALOGUE_2024: tuple[Item, ...] = (
    _ballot("ss-ppwp", "PPWP (Presiden dan Wakil Presiden)", "abu-abu"),
    _ballot("ss-dpr", "DPR", "kuning"),
    _ballot("ss-dpd", "DPD", "merah"),
    _ballot("ss-dprd-prov", "DPRD Provinsi", "biru"),
    _ballot("ss-dprd-kab", "DPRD Kabupaten/Kota", "hijau", excluded=(DKI_JAKARTA,)),
    Item(
        "kotak-suara",
        "Kotak suara",
        ItemCategory.BOX,
        rules=(
            Rule(NeedBasis.PER_TPS, 4),
            # The fifth box is for the DPRD Kabupaten/Kota ballots, which DKI Jakarta lacks.
            Rule(NeedBasis.PER_TPS, 1, excluded=(DKI_JAKARTA,)),
        ),
    ),
    Item("bilik-suara", "Bilik suara", ItemCategory.BOOTH, rules=(Rule(NeedBasis.PER_TPS, 4),)),
    Item("tinta", "Tinta", ItemCategory.INK, unit="botol", rules=(Rule(NeedBasis.PER_TPS, 2),)),
    Item("segel-plastik", "Segel plastik", ItemCategory.SEAL, rules=(Rule(NeedBasis.PER_TPS, 10),)),
    Item(
        "stiker-segel",
        "Stiker segel",
        ItemCategory.SEAL_STICKER,
        rules=(Rule(NeedBasis.PER_TPS, 20),),
    ),
    Item(
        "formulir",
        "Formulir (satu set)",
        ItemCategory.FORM,
        unit="set",
        rules=(Rule(NeedBasis.PER_TPS, 1),),
    ),
    Item(
        "sampul",
        "Sampul (satu set)",
        ItemCategory.ENVELOPE,
        unit="set",
        rules=(Rule(NeedBasis.PER_TPS, 1),),
    ),
    Item(
        "template-braille",
        "Alat bantu tunanetra (template braille)",
        ItemCategory.BRAILLE,
        rules=(Rule(NeedBasis.PER_TPS, 2),),
    ),
    Item(
        "perlengkapan-lain",
        "Perlengkapan lain (alat tulis, daftar pasangan calon)",
        ItemCategory.OTHER,
        unit="set",
        rules=(Rule(NeedBasis.PER_TPS, 1),),
    ),
)

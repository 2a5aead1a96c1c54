"""Needs per TPS from the DPT and the rules, and their roll-up by region in one query."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siaga.logistics.catalogue import Item, Rule
from siaga.logistics.choices import ItemCategory, NeedBasis
from siaga.logistics.models import Election, ItemType
from siaga.logistics.needs import (
    CODE_WIDTH,
    RuleSpec,
    need_for_tps,
    needs_by_region,
    reserve,
    rollup_query,
    rules_of,
)
from siaga.logistics.services import seed_catalogue
from tests.logistics.conftest import Logi

pytestmark = pytest.mark.django_db

BALLOTS = ("ss-ppwp", "ss-dpr", "ss-dpd", "ss-dprd-prov", "ss-dprd-kab")
MARTAPURA = "16.08.01.1008"  # Pasar Martapura, Kab. OKU Timur
GAMBIR = "31.71.01.1001"  # Gambir, Jakarta Pusat (DKI: no DPRD Kabupaten/Kota)
# Desa in two kecamatan of OKU Timur, one of OKU, and one of DKI Jakarta.
DESA = (
    "16.08.01.1007",
    "16.08.01.1008",
    "16.08.02.2001",
    "16.08.02.2002",
    "16.01.07.2001",
    "31.71.01.1001",
    "31.71.01.1002",
)


def _ids(election: Election) -> dict[str, int]:
    return dict(ItemType.objects.filter(election=election).values_list("code", "pk"))


def test_a_tps_of_250_voters_needs_255_of_each_ballot_five_boxes_four_booths(
    election: Election,
) -> None:
    ids = _ids(election)
    need = need_for_tps(rules_of(election), MARTAPURA, 250)
    by_code = {code: need.get(pk) for code, pk in ids.items()}
    assert by_code == {
        "ss-ppwp": 255,
        "ss-dpr": 255,
        "ss-dpd": 255,
        "ss-dprd-prov": 255,
        "ss-dprd-kab": 255,
        "kotak-suara": 5,
        "bilik-suara": 4,
        "tinta": 2,
        "segel-plastik": 10,
        "stiker-segel": 20,
        "formulir": 1,
        "sampul": 1,
        "template-braille": 2,
        "perlengkapan-lain": 1,
    }


def test_a_tps_in_dki_jakarta_gets_no_dprd_kabupaten_ballots_and_four_boxes(
    election: Election,
) -> None:
    ids = _ids(election)
    need = need_for_tps(rules_of(election), GAMBIR, 250)
    assert ids["ss-dprd-kab"] not in need
    assert need[ids["kotak-suara"]] == 4
    assert [need[ids[code]] for code in BALLOTS[:4]] == [255, 255, 255, 255]
    assert len(need) == 13


def test_the_reserve_is_rounded_up_per_tps(election: Election) -> None:
    ids = _ids(election)
    rules = rules_of(election)
    # 2 % of 251 is 5.02: six reserve ballots; of 50, exactly one; of 0 voters, none.
    assert need_for_tps(rules, MARTAPURA, 251)[ids["ss-dpr"]] == 257
    assert need_for_tps(rules, MARTAPURA, 50)[ids["ss-dpr"]] == 51
    assert need_for_tps(rules, MARTAPURA, 0)[ids["ss-dpr"]] == 0
    assert need_for_tps(rules, MARTAPURA, None)[ids["kotak-suara"]] == 5
    assert reserve(250, 200) == 5
    assert reserve(251, 200) == 6
    assert reserve(1, 1) == 1


def test_model_rules_and_plain_rules_give_the_same_need(election: Election) -> None:
    from siaga.logistics.models import NeedRule

    models = list(NeedRule.objects.filter(item__election=election))
    assert need_for_tps(models, GAMBIR, 317) == need_for_tps(rules_of(election), GAMBIR, 317)


def test_per_district_ballots_are_1000_per_kabupaten_per_kind(
    election: Election, logi: Logi
) -> None:
    ids = _ids(election)
    logi.tps("16.08.01.1008", 250)
    logi.tps("16.08.02.2001", 100)
    logi.tps("16.01.07.2001", 10)
    logi.tps(GAMBIR, 200)
    rules = rules_of(election)
    rollup = needs_by_region(rules, level=2)
    rows = {row.code: row for row in rollup.rows}
    assert sorted(rows) == ["16.01", "16.08", "31.71"]
    assert rollup.districts == {}
    # OKU Timur: 255 + 102 per-TPS ballots, plus one district's 1,000.
    assert [rows["16.08"].items[ids[c]] for c in BALLOTS] == [1357] * 5
    assert [rows["16.01"].items[ids[c]] for c in BALLOTS] == [1011] * 5
    # Jakarta Pusat: four kinds only; its 1,000 DPRD Kab/Kota re-vote ballots do not exist.
    assert [rows["31.71"].items[ids[c]] for c in BALLOTS[:4]] == [1204] * 4
    assert ids["ss-dprd-kab"] not in rows["31.71"].items
    assert rows["31.71"].items[ids["kotak-suara"]] == 4
    assert (rows["16.08"].tps, rows["16.08"].voters) == (2, 350)
    nation = needs_by_region(rules, level=0)
    assert [row.code for row in nation.rows] == [""]
    assert nation.rows[0].items[ids["ss-dpd"]] == 1357 + 1011 + 1204
    assert nation.rows[0].items[ids["ss-dprd-kab"]] == 1357 + 1011
    assert nation.total == nation.rows[0].items


def test_below_the_district_its_reserve_stands_apart_and_a_kecamatan_carries_none(
    election: Election, logi: Logi
) -> None:
    ids = _ids(election)
    logi.tps("16.08.01.1008", 250)
    logi.tps("16.08.02.2001", 100)
    rules = rules_of(election)
    by_desa = needs_by_region(rules, level=4, root="16.08")
    assert [row.code for row in by_desa.rows] == ["16.08.01.1008", "16.08.02.2001"]
    assert by_desa.rows[0].items[ids["ss-dpr"]] == 255
    assert by_desa.districts == {"16.08": {ids[c]: 1000 for c in BALLOTS}}
    assert by_desa.total[ids["ss-dpr"]] == 255 + 102 + 1000
    kecamatan = needs_by_region(rules, level=3, root="16.08.01")
    assert [row.code for row in kecamatan.rows] == ["16.08.01"]
    assert kecamatan.districts == {}
    assert kecamatan.total[ids["ss-dpr"]] == 255


def test_inactive_tps_and_other_sites_need_nothing(election: Election, logi: Logi) -> None:
    ids = _ids(election)
    logi.tps("16.08.01.1008", 250)
    logi.tps("16.08.01.1008", 300, active=False)
    logi.site("pps", "16.08.01.1008")
    rollup = needs_by_region(rules_of(election), level=4, root="16.08.01.1008")
    assert [(row.code, row.tps, row.voters) for row in rollup.rows] == [("16.08.01.1008", 1, 250)]
    assert rollup.rows[0].items[ids["ss-ppwp"]] == 255


def test_the_rollup_is_one_query(
    election: Election, logi: Logi, django_assert_num_queries: object
) -> None:
    for desa in DESA:
        logi.tps(desa, 123)
    rules = rules_of(election)
    with django_assert_num_queries(1):  # type: ignore[operator]
        needs_by_region(rules, level=3, root="16")


def test_the_query_shares_columns_between_rules(election: Election) -> None:
    query = rollup_query(rules_of(election), level=2, root="16.08")
    # No exclusion and DKI's: TPS and voters each, plus one 2 % reserve each: six sums.
    assert query.exclusion_sets == ((), ("31",))
    assert query.reserves == ((0, 200), (1, 200))
    assert query.sql.count("SUM(") == 6
    assert query.group_width == CODE_WIDTH[2]


def _catalogue(percent_a: Decimal, percent_b: Decimal, per_tps: int) -> tuple[Item, ...]:
    return (
        Item(
            "a",
            "A",
            ItemCategory.BALLOT,
            rules=(
                Rule(NeedBasis.PER_VOTER, 1, percent_a),
                Rule(NeedBasis.PER_DISTRICT, 1000),
            ),
        ),
        Item(
            "b",
            "B",
            ItemCategory.BALLOT,
            rules=(
                Rule(NeedBasis.PER_VOTER, 2, percent_b, ("31",)),
                Rule(NeedBasis.PER_DISTRICT, 500, excluded=("31",)),
            ),
        ),
        Item(
            "c",
            "C",
            ItemCategory.BOX,
            rules=(
                Rule(NeedBasis.PER_TPS, per_tps),
                Rule(NeedBasis.PER_TPS, 1, excluded=("16.08",)),
            ),
        ),
    )


def _expected(
    rules: list[RuleSpec], tps: list[tuple[str, int]], level: int, root: str
) -> dict[str, dict[int, int]]:
    """The roll-up computed the slow way: the pure function per TPS, plus the districts."""
    width = CODE_WIDTH[level]
    expected: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for region, voters in tps:
        if root and not (region == root or region.startswith(root + ".")):
            continue
        for item, quantity in need_for_tps(rules, region, voters).items():
            expected[region[:width]][item] += quantity
        expected.setdefault(region[:width], defaultdict(int))
    held: set[tuple[int, str, int]] = set()
    for rule in rules:
        if rule.basis != NeedBasis.PER_DISTRICT:
            continue
        for region, _voters in tps:
            in_root = not root or region == root or region.startswith(root + ".")
            if in_root and not rule.excludes(region):
                held.add((rule.item_id, region[: CODE_WIDTH[rule.district_level]], rule.quantity))
    if not root or root.count(".") + 1 <= 2:
        for item, district, quantity in held:
            expected[district[:width] if level <= 2 else "districts"][item] += quantity
    return {code: dict(items) for code, items in expected.items()}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tps=st.lists(
        st.tuples(st.sampled_from(DESA), st.integers(min_value=0, max_value=700)),
        min_size=1,
        max_size=15,
    ),
    percent_a=st.decimals(min_value=0, max_value=25, places=2),
    percent_b=st.decimals(min_value=0, max_value=25, places=2),
    per_tps=st.integers(min_value=0, max_value=9),
    level=st.sampled_from([0, 1, 2, 3, 4]),
    root=st.sampled_from(["", "16", "16.08", "16.08.01", "31.71"]),
)
def test_every_rollup_equals_the_sum_of_its_tps_needs(
    logi: Logi,
    tps: list[tuple[str, int]],
    percent_a: Decimal,
    percent_b: Decimal,
    per_tps: int,
    level: int,
    root: str,
) -> None:
    if root and level < root.count(".") + 1:
        level = root.count(".") + 1
    with transaction.atomic():
        election = seed_catalogue(
            code="uji", name="Uji", catalogue=_catalogue(percent_a, percent_b, per_tps)
        )
        for region, voters in tps:
            logi.tps(region, voters)
        rules = rules_of(election)
        rollup = needs_by_region(rules, level=level, root=root)
        got = {row.code: row.items for row in rollup.rows}
        if rollup.districts:
            summed: dict[int, int] = defaultdict(int)
            for items in rollup.districts.values():
                for item, quantity in items.items():
                    summed[item] += quantity
            got["districts"] = dict(summed)
        assert got == _expected(rules, tps, level, root)
        transaction.set_rollback(True)

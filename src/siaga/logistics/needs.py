"""What the TPS need, from their voters (DPT) and the election's need rules.

Two ways to the same figures: ``need_for_tps`` for one TPS (pure: packing fills a package from
it), and ``needs_by_region`` for every TPS under a region at once, summed by the database in one
grouped query — the national roll-up reads ~820,000 TPS rows, so it never walks them in Python.

Rounding is the rule's: a reserve of 2 % on 250 voters is 5, on 251 voters it is 6 (rounded up
per TPS). The database does it in integers, ``(voters * hundredths + 9999) / 10000``, which
SQLite and PostgreSQL agree on (SQLite before 3.44 has no CEIL)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from siaga.logistics.choices import NeedBasis
from siaga.logistics.models import Election, NeedRule
from siaga.regions.codes import in_subtree, level_of
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

# Kemendagri codes have fixed widths per level: "16", "16.08", "16.08.01", "16.08.01.1008".
CODE_WIDTH = {0: 0, 1: 2, 2: 5, 3: 8, 4: 13}
NATIONAL = ""


@dataclass(frozen=True)
class RuleSpec:
    """A need rule as plain data: what the pure function and the SQL builder read."""

    item_id: int
    basis: str
    quantity: int
    reserve_hundredths: int = 0  # 2 % is 200: integer arithmetic, no float, no Decimal in SQL
    district_level: int = 2
    excluded: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: NeedRule) -> RuleSpec:
        return cls(
            item_id=rule.item_id,
            basis=rule.basis,
            quantity=rule.quantity,
            reserve_hundredths=int(Decimal(rule.reserve_percent) * 100),
            district_level=rule.district_level,
            excluded=tuple(str(code) for code in rule.excluded_regions or ()),
        )

    def excludes(self, region_code: str) -> bool:
        return any(in_subtree(region_code, code) for code in self.excluded)


def rules_of(election: Election | str) -> list[RuleSpec]:
    """The election's need rules, in catalogue order: one query."""
    code = election.code if isinstance(election, Election) else election
    rows = NeedRule.objects.filter(item__election_id=code).order_by("item__position", "pk")
    return [RuleSpec.of(rule) for rule in rows]


def _specs(rules: Iterable[RuleSpec | NeedRule]) -> list[RuleSpec]:
    return [r if isinstance(r, RuleSpec) else RuleSpec.of(r) for r in rules]


def reserve(voters: int, hundredths: int) -> int:
    """``voters × percent / 100``, rounded up: 250 voters at 2 % (200) is 5."""
    return (voters * hundredths + 9999) // 10000


def need_for_tps(
    rules: Iterable[RuleSpec | NeedRule], region_code: str, voters: int | None
) -> dict[int, int]:
    """What one TPS at ``region_code`` (its desa) with ``voters`` on its DPT needs, by item id.

    Per-voter rules give ``voters × quantity`` plus the reserve, rounded up; per-TPS rules their
    quantity. Per-district rules are not a TPS's need (see ``needs_by_region``). An item whose
    every rule excludes this region is absent."""
    count = voters or 0
    need: dict[int, int] = {}
    for rule in _specs(rules):
        if rule.basis == NeedBasis.PER_DISTRICT or rule.excludes(region_code):
            continue
        if rule.basis == NeedBasis.PER_VOTER:
            quantity = count * rule.quantity + reserve(count, rule.reserve_hundredths)
        else:
            quantity = rule.quantity
        need[rule.item_id] = need.get(rule.item_id, 0) + quantity
    return need


# --- the roll-up ---------------------------------------------------------------------------


@dataclass
class NeedRow:
    """The need of every TPS under one region (``code``; ``""`` is the whole country)."""

    code: str
    tps: int = 0
    voters: int = 0
    items: dict[int, int] = field(default_factory=dict)


@dataclass
class NeedRollup:
    """Needs grouped by region at ``level`` under ``root``.

    Per-district quantities (e.g. 1,000 re-vote ballots per kabupaten) count in the rows when
    ``level`` is at or above the district's level; below it they belong to no single child and
    stand in ``districts`` by district code. Districts count only under a root that holds them
    whole: a kecamatan's page carries none of its kabupaten's reserve."""

    level: int
    root: str
    rows: list[NeedRow]
    districts: dict[str, dict[int, int]]

    @property
    def total(self) -> dict[int, int]:
        summed: dict[int, int] = defaultdict(int)
        for row in self.rows:
            for item, quantity in row.items.items():
                summed[item] += quantity
        for items in self.districts.values():
            for item, quantity in items.items():
                summed[item] += quantity
        return dict(summed)

    @property
    def tps(self) -> int:
        return sum(row.tps for row in self.rows)

    @property
    def voters(self) -> int:
        return sum(row.voters for row in self.rows)


@dataclass(frozen=True)
class RollupQuery:
    """The one grouped query behind a roll-up, with the parameters it runs with: the benchmark
    times it raw, next to ``needs_by_region``."""

    sql: str
    params: list[Any]
    group_width: int
    exclusion_sets: tuple[tuple[str, ...], ...]
    reserves: tuple[tuple[int, int], ...]  # (exclusion-set index, hundredths)


def _group_width(level: int, root: str, specs: Sequence[RuleSpec]) -> int:
    """Group by the output level, or finer where a district level lies below it, so that the
    districts can be counted from the grouped rows."""
    width = CODE_WIDTH[level]
    for rule in specs:
        if rule.basis == NeedBasis.PER_DISTRICT and _districts_counted(rule, root):
            width = max(width, CODE_WIDTH[rule.district_level])
    return width


def _districts_counted(rule: RuleSpec, root: str) -> bool:
    return level_of(root) <= rule.district_level if root else True


def rollup_query(rules: Iterable[RuleSpec | NeedRule], *, level: int, root: str) -> RollupQuery:
    """The SQL that sums, per group of TPS, the figures every rule is made of: how many TPS,
    how many voters, and each reserve rounded up per TPS — for each distinct set of excluded
    regions. Rules sharing a set share its columns, so 14 items cost 6 sums, not 28."""
    specs = _specs(rules)
    if level not in CODE_WIDTH:
        raise ValueError(f"level {level} is not 0 to 4")
    exclusion_sets: list[tuple[str, ...]] = [()]
    reserves: list[tuple[int, int]] = []
    for rule in specs:
        key = tuple(sorted(rule.excluded))
        if key not in exclusion_sets:
            exclusion_sets.append(key)
        pair = (exclusion_sets.index(key), rule.reserve_hundredths)
        if rule.basis == NeedBasis.PER_VOTER and rule.reserve_hundredths and pair not in reserves:
            reserves.append(pair)
    width = _group_width(level, root, specs)
    table = Site._meta.db_table
    voters = 'CAST(COALESCE(s."voters", 0) AS BIGINT)'
    params: list[Any] = []
    conditions: list[str] = []
    for excluded in exclusion_sets:
        if not excluded:
            conditions.append("1 = 1")
            continue
        one = '(s."region_id" = %s OR (s."region_id" > %s AND s."region_id" < %s))'
        conditions.append("NOT (" + " OR ".join([one] * len(excluded)) + ")")
    columns: list[str] = []
    column_params: list[Any] = []

    def guarded(index: int, expression: str) -> str:
        excluded = exclusion_sets[index]
        for code in excluded:
            column_params.extend([code, code + ".", code + "/"])
        if not excluded:
            return expression
        return f"CASE WHEN {conditions[index]} THEN {expression} ELSE 0 END"

    for index in range(len(exclusion_sets)):
        columns.append(f"SUM({guarded(index, '1')})")
        columns.append(f"SUM({guarded(index, voters)})")
    for index, hundredths in reserves:
        columns.append(f"SUM({guarded(index, f'({voters} * {int(hundredths)} + 9999) / 10000')})")
    group = f'substr(s."region_id", 1, {width})' if width else "''"
    where = ['s."kind" = %s', 's."active" = %s']
    params.extend(column_params)
    where_params: list[Any] = [SiteKind.TPS, True]
    if root:
        where.append('(s."region_id" = %s OR (s."region_id" > %s AND s."region_id" < %s))')
        # '/' follows '.' in ASCII: the range is every code under root, and an index serves it.
        where_params.extend([root, root + ".", root + "/"])
    sql = (
        f"SELECT {group} AS g, {', '.join(columns)} "  # noqa: S608 - widths are ints, codes are parameters
        f'FROM "{table}" s WHERE {" AND ".join(where)}' + (" GROUP BY 1" if width else "")
    )
    return RollupQuery(
        sql=sql,
        params=params + where_params,
        group_width=width,
        exclusion_sets=tuple(exclusion_sets),
        reserves=tuple(reserves),
    )


@dataclass
class _Sums:
    tps: list[int]
    voters: list[int]
    reserves: dict[tuple[int, int], int]


def needs_by_region(
    rules: Iterable[RuleSpec | NeedRule], *, level: int, root: str = NATIONAL
) -> NeedRollup:
    """Need per item of every active TPS under ``root``, grouped by region at ``level`` (0 the
    nation, 1 provinsi, 2 kabupaten/kota, 3 kecamatan/PPK, 4 desa/PPS): one query.

    Equal, group by group, to the sum of ``need_for_tps`` over the group's TPS, plus the
    per-district quantities (see ``NeedRollup``)."""
    specs = _specs(rules)
    if root and level < level_of(root):
        raise ValueError(f"level {level} lies above the root {root!r}")
    query = rollup_query(specs, level=level, root=root)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        fetched = cursor.fetchall()
    sets = len(query.exclusion_sets)
    grouped: dict[str, _Sums] = {}
    for row in fetched:
        values = [int(v or 0) for v in row[1:]]
        grouped[row[0] or ""] = _Sums(
            tps=values[0 : 2 * sets : 2],
            voters=values[1 : 2 * sets : 2],
            reserves=dict(zip(query.reserves, values[2 * sets :], strict=True)),
        )
    out_width = CODE_WIDTH[level]
    rows: dict[str, NeedRow] = {}
    for code, sums in grouped.items():
        target = code[:out_width]
        row = rows.get(target)
        if row is None:
            row = rows[target] = NeedRow(code=target)
        row.tps += sums.tps[0]
        row.voters += sums.voters[0]
        for rule in specs:
            if rule.basis == NeedBasis.PER_DISTRICT:
                continue
            index = query.exclusion_sets.index(tuple(sorted(rule.excluded)))
            if rule.basis == NeedBasis.PER_VOTER:
                quantity = sums.voters[index] * rule.quantity
                if rule.reserve_hundredths:
                    quantity += sums.reserves[(index, rule.reserve_hundredths)]
            else:
                quantity = sums.tps[index] * rule.quantity
            if quantity or sums.tps[index]:
                row.items[rule.item_id] = row.items.get(rule.item_id, 0) + quantity
    districts: dict[str, dict[int, int]] = {}
    for rule in specs:
        if rule.basis != NeedBasis.PER_DISTRICT or not _districts_counted(rule, root):
            continue
        index = query.exclusion_sets.index(tuple(sorted(rule.excluded)))
        width = CODE_WIDTH[rule.district_level]
        held = {code[:width] for code, sums in grouped.items() if sums.tps[index]}
        for district in held:
            if rule.district_level >= level:
                target = district[:out_width]
                items = rows[target].items
            else:
                items = districts.setdefault(district, {})
            items[rule.item_id] = items.get(rule.item_id, 0) + rule.quantity
    return NeedRollup(
        level=level,
        root=root,
        rows=sorted(rows.values(), key=lambda r: r.code),
        districts=dict(sorted(districts.items())),
    )


def explain_rollup(
    rules: Iterable[RuleSpec | NeedRule], *, level: int, root: str = NATIONAL
) -> str:
    """The database's plan for the roll-up's query (``EXPLAIN``; ``ANALYZE`` runs it)."""
    query = rollup_query(rules, level=level, root=root)
    prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + query.sql, query.params)
        return "\n".join(" | ".join(str(c) for c in row) for row in cursor.fetchall())

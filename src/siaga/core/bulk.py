"""Set-at-a-time reads and writes in plain SQL, for the batch paths (thousands of scans in one
request) where building model instances and long parameter lists costs more than the work.

On PostgreSQL a list travels as one array parameter (``= ANY(%s)``, ``unnest``): the driver then
binds a handful of values instead of one per row, and the statement text stays short; new rows
go in by ``COPY``. The array goes as its literal text, written here (``array``): the driver's
own list adapter looks at each element in Python several times over, which cost more than the
query it fed. SQLite takes the plain forms (``IN (…)``, ``executemany``), which it runs
in-process at little cost.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from psycopg.types.uuid import UUIDBinaryDumper

ROWS_PER_STATEMENT = 500


def postgres() -> bool:
    return connection.vendor == "postgresql"


# Element types whose text form never needs quoting in an array literal.
_BARE = frozenset({"uuid", "bigint", "integer", "smallint"})


def _quoted(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes | memoryview):
        return '"\\\\x' + bytes(value).hex() + '"'  # bytea's hex form, its backslash escaped
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    return f'"{text}"'


def array(values: Iterable[Any], cast: str) -> str:
    """The PostgreSQL array literal of ``values`` (elements of type ``cast``), to be bound as
    ``%s::cast[]``. Every element but a number or a UUID is double-quoted, with ``\\`` and
    ``"`` escaped, so any text survives; bytes go in bytea's hex form; ``None`` is NULL."""
    if cast in _BARE:
        return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"
    return "{" + ",".join([_quoted(v) for v in values]) + "}"


def where_in(column: str, values: Sequence[Any], cast: str) -> tuple[str, list[Any]]:
    """``column`` is one of ``values``: the SQL condition and its parameters. ``cast`` is the
    PostgreSQL type of the elements (``uuid``, ``text``)."""
    if not values:
        return "1 = 0", []
    if postgres():
        # The array behind a sub-select: PostgreSQL then plans without estimating each of its
        # thousand elements against the column's statistics (15-20 ms a query, longer than
        # running it).
        return f"{column} = ANY((SELECT %s::{cast}[])::{cast}[])", [array(values, cast)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


class _UuidBinaryDumper(UUIDBinaryDumper):
    """A uuid in COPY's binary form from a ``uuid.UUID`` or from its text (the batch paths
    hold ids as text: quicker to hash)."""

    def dump(self, obj: Any) -> bytes:
        if isinstance(obj, str):
            return bytes.fromhex(obj.replace("-", ""))
        return bytes(super().dump(obj) or b"")


def insert(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    types: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, values ready for the database). With
    the columns' PostgreSQL ``types``, PostgreSQL takes the rows in COPY's binary form, which
    costs the driver and the server less than text to write and to read."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if postgres():
        # COPY: the rows stream in PostgreSQL's own format, with no statement to parse.
        raw = cursor.cursor
        binary = " (FORMAT BINARY)" if types else ""
        with raw.copy(f'COPY "{table}" ({names}) FROM STDIN{binary}') as copy:
            if types:
                raw.adapters.register_dumper(uuid.UUID, _UuidBinaryDumper)
                copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)
        return
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        cursor.execute(
            f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([marks] * len(chunk)),  # noqa: S608 - names from model metadata, values bound
            [value for row in chunk for value in row],
        )


def update(
    cursor: Any,
    table: str,
    key: str,
    columns: Sequence[str],
    casts: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    keep: Sequence[str] = (),
) -> None:
    """Set ``columns`` on the rows whose ``key`` is the last value of each tuple (``casts``
    names the types of the columns, then of the key). A column in ``keep`` keeps its stored
    value where the new one is NULL."""
    if not rows:
        return
    if postgres():
        # A column with one value for every row (a state, the batch's time) goes as that one
        # value, not as an array of a thousand copies; the others go as arrays, unnested.
        values = list(zip(*rows, strict=True))
        assignments: list[str] = []
        params: list[Any] = []
        unnested: list[tuple[str, str]] = []
        arrays: list[str] = []
        for name, cast, column in zip(columns, casts, values, strict=False):
            first = column[0]
            if column.count(first) == len(column):
                value = f"%s::{cast}"
                params.append(first)
            else:
                value = f'v."{name}"'
                unnested.append((name, cast))
                arrays.append(array(column, cast))
            assignments.append(
                f'"{name}" = COALESCE({value}, t."{name}")'
                if name in keep
                else f'"{name}" = {value}'
            )
        unnested.append(("__key", casts[-1]))
        arrays.append(array(values[-1], casts[-1]))
        unnest = ", ".join(f"%s::{cast}[]" for _name, cast in unnested)
        names = ", ".join(f'"{name}"' for name, _cast in unnested)
        cursor.execute(
            f'UPDATE "{table}" AS t SET {", ".join(assignments)} FROM unnest({unnest}) '  # noqa: S608 - names from model metadata, values bound
            f'AS v({names}) WHERE t."{key}" = v."__key"',
            [*params, *arrays],
        )
        return
    sets = ", ".join(
        f'"{c}" = COALESCE(%s, "{c}")' if c in keep else f'"{c}" = %s' for c in columns
    )
    cursor.executemany(f'UPDATE "{table}" SET {sets} WHERE "{key}" = %s', rows)  # noqa: S608 - names from model metadata, values bound

"""Model instances from plain SQL rows, for the few hot paths where compiling an ORM query costs
more than running it (the gate's check-in reads one pass, its person, site and rules per scan).

A :class:`Columns` names a model's columns under a table alias and turns the matching slice of a
row back into an instance, through the same converters the ORM applies (SQLite keeps UUIDs and
datetimes as text, booleans as integers), so the instance is the one ``.get()`` would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


class Columns:
    """The concrete columns of ``model`` (less ``leave_out``, which load deferred) under
    ``alias``."""

    def __init__(self, model: type[Model], alias: str, *, leave_out: Sequence[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields: list[Field[Any, Any]] = [
            f for f in model._meta.concrete_fields if f.name not in leave_out
        ]
        self.names = [f.attname for f in self.fields]
        self._converters: dict[str, list[list[tuple[Converter, Any]]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self) -> str:
        """``alias."col", ...`` for a SELECT list."""
        return ", ".join(f'{self.alias}."{f.column}"' for f in self.fields)

    def _converters_for(self) -> list[list[tuple[Converter, Any]]]:
        vendor = connection.vendor
        if vendor not in self._converters:
            built = []
            for field in self.fields:
                column = field.get_col(self.alias)
                found = connection.ops.get_db_converters(column) + field.get_db_converters(
                    connection
                )
                built.append([(convert, column) for convert in found])
            self._converters[vendor] = built
        return self._converters[vendor]

    def build(self, row: Sequence[Any], start: int = 0) -> Model | None:
        """The instance held in ``row[start:start + len(self)]``; ``None`` when its key is NULL
        (the far side of a LEFT JOIN that found nothing)."""
        values = list(row[start : start + len(self.fields)])
        for index, steps in enumerate(self._converters_for()):
            for convert, column in steps:
                values[index] = convert(values[index], column, connection)
        if values[self.names.index(self.model._meta.pk.attname)] is None:
            return None
        return self.model.from_db(connection.alias, self.names, values)

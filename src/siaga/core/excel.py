"""The one Excel writer: every export goes through it, and none writes typed text as a formula.

A name, organisation or note that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would be a formula (or a DDE call) to a spreadsheet that opens the file: the Bawaslu
supervisor who downloads the gate log would run what a visitor typed at the gate. Such text is
written as a text cell, and marked with Excel's quote prefix so that editing the cell keeps it
text.

Counts are written as numbers with a thousands separator (``#,##0``): a spreadsheet shows
164.377 or 164,377 as its reader's locale says, and the cell still holds the integer. A column
of integers that are identifiers (a ledger entry's number) is named in ``identifiers`` and kept
without grouping.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
THOUSANDS = "#,##0"

_BOLD = Font(bold=True)


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Sheet:
    def __init__(self, book: Workbook, title: str, identifiers: Collection[int] = ()) -> None:
        self._sheet = book.create_sheet(title[:31] or "Sheet")
        self._identifiers = frozenset(identifiers)

    def header(self, texts: Iterable[object]) -> None:
        cells = []
        for text in texts:
            cell = self._cell(str(text))
            cell.font = _BOLD
            cells.append(cell)
        self._sheet.append(cells)

    def append(self, values: Iterable[Any]) -> None:
        cells: list[Any] = []
        for column, value in enumerate(values):
            if is_formula_like(value):
                cells.append(self._cell(value))
            elif is_count(value) and column not in self._identifiers:
                cell = WriteOnlyCell(self._sheet, value=value)
                cell.number_format = THOUSANDS
                cells.append(cell)
            else:
                cells.append(value)
        self._sheet.append(cells)

    def _cell(self, value: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(self._sheet, value=value)
        if is_formula_like(value):
            cell.data_type = "s"  # openpyxl took it for a formula when the value was set
            cell.quotePrefix = True
        return cell


class ExcelWriter:
    """A workbook written row by row (openpyxl's write-only mode), whatever its size."""

    def __init__(self) -> None:
        self._book = Workbook(write_only=True)

    def sheet(
        self, title: str, header: Sequence[object] = (), *, identifiers: Collection[int] = ()
    ) -> Sheet:
        """A new sheet. ``identifiers``: the (0-based) columns whose integers are identifiers,
        written without a thousands separator."""
        sheet = Sheet(self._book, title, identifiers)
        if header:
            sheet.header(header)
        return sheet

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self._book.save(out)
        return out.getvalue()

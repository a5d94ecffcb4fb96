"""Attack: an XLSX that claims the whole sheet (A1:XFD1048576) and has one cell at the far end.

openpyxl, which the import used before, pads every row up to the claimed dimension: iterating
this file means 1,048,576 rows of 16,384 cells (17 billion), and the API froze. The hardened
reader reads cells as they occur and refuses a cell past the row limit at once."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from dispatcher.roster.ledger import RosterFileError, RosterPlace, parse_roster
from tests.security.xlsx_files import LEDGER, build, inline_rows, sheet_xml

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")
FAR = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
FAR_FILE = build(sheet_xml(inline_rows(LEDGER) + FAR, dimension="A1:XFD1048576"))


def test_the_file_is_a_real_attack_on_a_padding_reader() -> None:
    sheet = load_workbook(io.BytesIO(FAR_FILE), read_only=True).worksheets[0]
    # What a padding reader would iterate over (not iterated here: it would not finish).
    assert (sheet.max_row, sheet.max_column) == (1_048_576, 16_384)


def test_far_cell_refuses_the_file_with_the_cell_named() -> None:
    with pytest.raises(RosterFileError, match="1048576"):
        parse_roster(FAR_FILE, WHERE)


def test_claimed_dimension_alone_is_ignored() -> None:
    honest_cells = build(sheet_xml(inline_rows(LEDGER), dimension="A1:XFD1048576"))
    parsed = parse_roster(honest_cells, WHERE)
    assert parsed.rows == 2 and len(parsed.profiles) == 2 and parsed.problems == []


def test_far_right_cell_is_skipped_and_reported() -> None:
    stray = '<row r="2"><c r="XFD2" t="inlineStr"><is><t>备注</t></is></c></row>'
    rows = inline_rows(LEDGER[:1]) + stray.replace('<row r="2">', '<row r="4">').replace(
        "XFD2", "XFD4"
    )
    parsed = parse_roster(build(sheet_xml(rows + inline_rows(LEDGER[1:], start=2))), WHERE)
    assert len(parsed.profiles) == 2
    assert parsed.warnings and "XFD4" in parsed.warnings[0]

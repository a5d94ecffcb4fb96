"""A workbook whose shared-string cells name no index a table can have: a superscript digit
(`str.isdigit` takes it, `int` refuses it) and 5,000 digits (past `int`'s limit). Each used
to raise out of the reader (a 500 for the upload); now such a cell reads as empty and the
workbook's other cells as written."""

from __future__ import annotations

import pytest

from dispatcher.roster.xlsx import read_xlsx
from tests.security.xlsx_files import build, shared_rows, sheet_xml


@pytest.mark.parametrize("index", ["²", "9" * 5000, "-1", "0x1"])
def test_a_shared_string_index_that_is_no_number_reads_as_empty(index: str) -> None:
    rows, sst = shared_rows([["姓名", "电话"], ["王芳", "13800000000"]])
    rows = rows.replace("<v>3</v>", f"<v>{index}</v>")  # the phone's cell
    sheet = read_xlsx(build(sheet_xml(rows, dimension="A1:B2"), sst))
    cells = [row for _, row in sheet.rows]
    assert cells[0] == ["姓名", "电话"]
    assert cells[1][0] == "王芳" and cells[1][1:] in ([], [""])

"""Attack: a zip bomb in the shared-string table (a few hundred KB inflating to 256 MiB).

A reader that loads the table whole (openpyxl does, before the first row) spends the API's
memory on it. The hardened reader counts inflated bytes as it streams and stops at its cap,
and keeps only the strings the cells it keeps refer to."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from dispatcher.roster.ledger import RosterFileError, RosterPlace, parse_roster
from dispatcher.roster.xlsx import XlsxLimits, read_xlsx
from tests.security.xlsx_files import LEDGER, build, one_string_bomb, shared_rows, sheet_xml

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")
BOMB_BYTES = 256 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return one_string_bomb(BOMB_BYTES)


def test_the_file_is_a_bomb(bomb: bytes) -> None:
    info = zipfile.ZipFile(BytesIO(bomb)).getinfo("xl/sharedStrings.xml")
    assert info.file_size >= BOMB_BYTES and info.file_size > 500 * info.compress_size
    assert len(bomb) < 8 * 1024 * 1024  # fits under the API's upload limit


def test_bomb_is_refused_at_the_cap(bomb: bytes) -> None:
    with pytest.raises(RosterFileError, match=r"sharedStrings\.xml inflates to more than 32 MiB"):
        parse_roster(bomb, WHERE)


def test_a_cap_below_an_honest_table_refuses_it_too() -> None:
    rows, sst = shared_rows(LEDGER)
    honest = build(sheet_xml(rows), sst)
    assert [r for _, r in read_xlsx(honest).rows] == LEDGER  # shared strings resolve
    with pytest.raises(Exception, match="inflates"):
        read_xlsx(honest, XlsxLimits(max_part_bytes=len(sst.encode()) - 1))


def test_only_referenced_strings_are_kept() -> None:
    rows, sst = shared_rows(LEDGER)
    # 100,000 unreferenced strings after the ones the cells use: read past, never kept.
    padding = "".join(f"<si><t>填充{i}</t></si>" for i in range(100_000))
    sheet = read_xlsx(build(sheet_xml(rows), sst.replace("</sst>", padding + "</sst>")))
    assert [r for _, r in sheet.rows] == LEDGER

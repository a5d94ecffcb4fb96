"""Review 30, finding 3: a workbook whose <row r="…"> is no row number ("abc", a superscript
digit, 5,000 digits, 0, past the last row a sheet has). `int()` raised out of the reader,
the sandbox's child died of it, and staff were told the file may need more than 768 MiB.
Now the reader refuses the file naming the bad row number, through the sandbox as a
`RosterFileError`; and any failure the reader did not foresee comes back named by its type,
never as a lack of memory."""

from __future__ import annotations

import re

import pytest

from dispatcher.roster.households import ParsedHouseholds
from dispatcher.roster.ledger import ParsedRoster, RosterFileError, RosterPlace
from dispatcher.roster.sandbox import _answer, parse_households_isolated, parse_isolated
from dispatcher.roster.xlsx import XlsxRefused, read_xlsx
from tests.security.xlsx_files import LEDGER, build, inline_rows, sheet_xml

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")
BAD = ["abc", "²", "1" * 5000, "0", "-3", "1048577", " 2"]
IDS = ["letters", "superscript", "5000-digits", "zero", "negative", "past-the-sheet", "space"]


def workbook(r: str) -> bytes:
    """The ledger's header and first row, then a row numbered `r`."""
    good = inline_rows(LEDGER[:2])
    bad = f'<row r="{r}"><c t="inlineStr"><is><t>x</t></is></c></row>'
    return build(sheet_xml(good + bad))


def names_the_row(message: str, r: str) -> None:
    shown = r[:7]
    assert re.search(r"a row numbered '.*' after row 2", message), message
    assert shown in message and "1048576" in message
    assert "MiB" not in message and len(message) < 300  # 5,000 digits are not echoed


@pytest.mark.parametrize("r", BAD, ids=IDS)
def test_the_reader_refuses_a_row_number_that_is_none(r: str) -> None:
    with pytest.raises(XlsxRefused) as refused:
        read_xlsx(workbook(r))
    names_the_row(str(refused.value), r)


@pytest.mark.parametrize("r", ["abc", "²", "1" * 5000], ids=IDS[:3])
def test_through_the_sandbox_both_ledgers_get_the_readers_refusal(r: str) -> None:
    for parse in (parse_isolated, parse_households_isolated):
        with pytest.raises(RosterFileError) as refused:
            parse(workbook(r), WHERE)
        names_the_row(str(refused.value), r)


def test_an_honest_row_number_still_reads() -> None:
    sheet = read_xlsx(workbook("7"))
    assert [n for n, _ in sheet.rows] == [1, 2, 7]


def _unforeseen() -> ParsedRoster | ParsedHouseholds:
    return ParsedRoster(rows=int("abc"))  # what the reader's `int(el.get("r"))` raised


def test_a_failure_the_reader_did_not_foresee_is_named_not_taken_for_memory() -> None:
    answer = _answer(_unforeseen, 768)
    assert answer.parsed is None and answer.households is None
    assert answer.error is not None
    assert "ValueError" in answer.error and "MiB" not in answer.error
    assert "abc" not in answer.error  # the exception's text may quote the file: left out

"""Attack: XML entities in a ledger: billion laughs (exponential expansion) and an external
entity that would read a local file into a cell (XXE). defusedxml refuses both before
expanding anything."""

from __future__ import annotations

import pytest

from dispatcher.roster.ledger import RosterFileError, RosterPlace, parse_roster
from tests.security.xlsx_files import LEDGER, MAIN, build, inline_rows, sheet_xml

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")

LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY l0 "哈哈">'
    + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def test_billion_laughs_in_the_sheet_is_refused() -> None:
    rows = inline_rows(LEDGER).replace("张建国", "&l9;")  # 10^9 × "哈哈" if expanded
    with pytest.raises(RosterFileError, match="DTD"):
        parse_roster(build(sheet_xml(rows, prolog=LAUGHS)), WHERE)


def test_external_entity_in_shared_strings_is_refused() -> None:
    sst = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE sst [<!ENTITY leak SYSTEM "file:///etc/hostname">]>'
        f'<sst xmlns="{MAIN}"><si><t>&leak;</t></si></sst>'
    )
    rows = inline_rows(LEDGER).replace(
        '<c r="A2" t="inlineStr"><is><t>张建国</t></is></c>', '<c r="A2" t="s"><v>0</v></c>'
    )
    assert "<v>0</v>" in rows
    with pytest.raises(RosterFileError, match="DTD"):
        parse_roster(build(sheet_xml(rows), sst), WHERE)

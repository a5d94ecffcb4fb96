"""A 结对 cell's refs: a phone written with spaces or dashes, or with +86/86, is one phone
(as the helper ledger stores it), never several "编号"; separators between refs still split
them; digit groups that make no phone are reported, not guessed into 编号."""

from __future__ import annotations

import pytest

from dispatcher.roster.households import paired_refs, parse_households
from dispatcher.roster.ledger import RosterPlace


@pytest.mark.parametrize(
    ("cell", "refs", "bad"),
    [
        ("138 0013 8000", ["13800138000"], []),
        ("138-0013-8000", ["13800138000"], []),
        ("+86 138 0013 8000", ["13800138000"], []),
        ("8613800138000", ["13800138000"], []),
        ("+8613800138000", ["13800138000"], []),
        ("13800138000", ["13800138000"], []),
        ("0592-1234567", ["05921234567"], []),
        ("V001、V002", ["V001", "V002"], []),
        ("13800138000,13900139000", ["13800138000", "13900139000"], []),
        ("138 0013 8000、139 0013 9000", ["13800138000", "13900139000"], []),
        ("13800138000 13900139000", ["13800138000", "13900139000"], []),
        ("138 0013 8000 V001", ["13800138000", "V001"], []),
        ("1023", ["1023"], []),  # a numeric 编号 alone
        ("1023、1024", ["1023", "1024"], []),
        ("138 0013 800", [], ["138 0013 800"]),  # a phone short of a digit: not 3 编号
        ("1023 1024", [], ["1023 1024"]),  # phone or two 编号? said, not guessed
        ("h-lin 张三", ["h-lin"], ["张三"]),
        ("", [], []),
    ],
)
def test_paired_refs(cell: str, refs: list[str], bad: list[str]) -> None:
    assert paired_refs(cell) == (refs, bad)


def test_a_phone_with_spaces_in_the_ledger_is_one_ref_and_unreadable_ones_are_noted() -> None:
    data = (
        "小区,楼栋,户号,户主,结对志愿者\n"
        "图强小区,3号楼,502,王阿姨,138 0013 8000\n"
        "图强小区,3号楼,503,钱阿姨,138 0013 800\n"
    ).encode()
    parsed = parse_households(data, RosterPlace("siming-x"))
    assert [h.paired_refs for h in parsed.households] == [["13800138000"], []]
    assert [(c.row, c.column) for c in parsed.cells] == [(3, "结对志愿者")]
    assert parsed.paired_column == "结对志愿者"

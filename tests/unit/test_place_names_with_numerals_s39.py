"""A building's name with one or two Chinese numerals is a name ("第二教学楼", "八一大楼",
"一期综合楼"), shown in offers, pages and group texts as before session 39; c8ef1e5 dropped
every name with any Chinese numeral (shown as 本小区: review). A number is still dropped:
any Arabic or financial digit, however written, or a run of three Chinese ones."""

from __future__ import annotations

import pytest

from dispatcher.push.places import building_label, place_label


@pytest.mark.parametrize("name", ["第二教学楼", "八一大楼", "一期综合楼", "综合楼", "三期会所"])
def test_a_name_with_a_numeral_or_two_is_kept(name: str) -> None:
    assert building_label(name) == name
    assert place_label(None, f"图强小区 {name}") == f"图强小区 {name}"


@pytest.mark.parametrize(
    "name", ["五零二", "伍零贰", "叁号楼伍零贰", "二楼502", "①③⑧", "楼 1️⃣0️⃣2️⃣", "五〇二室"]
)
def test_a_number_is_still_dropped(name: str) -> None:
    assert building_label(name) == ""

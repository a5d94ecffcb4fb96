"""Session 40 review of 7916e69: the compound part of an offer's place label keeps only
its name. Its check (`flat_in`, three digits in a row, an id) let a floor, door or unit
fragment next to the name through: a label "阳光花园 3楼 3号楼" was offered as
"阳光花园 3楼 3号楼", "7号" and "5-2" too, to every helper asked. Before 7916e69 only
"3号楼" was shown; now each token of the compound part that carries a digit (any form) with
a floor/door/unit/building word or a separator, or no Han character besides its digits,
is dropped; the name ("阳光花园", "万科城2期", "莲花五村") stays.
"""

from __future__ import annotations

import pytest

from dispatcher.push.places import compound_label, place_label
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_offer_compound_s40 import _page, _place, _texts


@pytest.mark.parametrize(
    "fragment",
    [
        "3楼",
        "三楼",  # Chinese numerals
        "十楼",
        "③楼",  # folded digit forms
        "7号",
        "7號",
        "东门7号",
        "5-2",
        "５－２",  # full width
        "5/2",
        "5#",
        "52",  # a bare number: a door, a room's short form
        "五二",
        "B2",
        "3 楼",  # split by a space
    ],
)
def test_a_floor_or_door_fragment_next_to_the_compound_is_not_offered(fragment: str) -> None:
    compound = f"阳光花园 {fragment}"
    label = _place("yangguang", compound, "hh-x").building_label()
    assert label == f"{compound} 3号楼"
    assert place_label(None, label) == "阳光花园 3号楼"
    assert compound_label(compound) == "阳光花园"
    assert "<dd>阳光花园 3号楼</dd>" in _page(label)
    # The offer push itself, as every helper asked receives it.
    w = World()
    w.helper("h", compound="yangguang", skills=[Skill.DRIVING], phone="13912345001")
    w.submit(place=_place("yangguang", compound, "hh-x"))
    offers = w.offer_events()
    assert offers
    assert {t.splitlines()[0] for t in _texts(w, offers)} == {"【危急】阳光花园 3号楼 送医"}


def test_a_fragment_written_into_the_name_drops_the_name() -> None:
    # One token: the name cannot be told from the floor; the building still shows.
    assert place_label(None, "阳光花园3楼 3号楼") == "3号楼"


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("万科城2期 A座", "万科城2期 A座"),  # a phase is a name's
        ("万科城 2期 3号楼", "万科城 2期 3号楼"),
        ("莲花五村 3号楼", "莲花五村 3号楼"),
        ("十里堡 3号楼", "十里堡 3号楼"),
        ("图强小区 综合楼", "图强小区 综合楼"),
    ],
)
def test_a_name_with_a_numeral_is_still_named(label: str, shown: str) -> None:
    assert place_label(None, label) == shown

"""A room written straight after its floor is a room (session 43 mass-incident audit A3).

"3号楼5楼502" / "3号楼5楼503": the parser read a room only after 单元/号楼/栋/幢/座/# or
before 室/房, so the room was dropped, both chat reports had the address "3号楼5层" and one
merge key, and the second family's life-threatening report was merged into the first:
nobody was sent to 503.
"""

from __future__ import annotations

import pytest

from dispatcher.api.command_queue import flat_of
from dispatcher.classify.places import place_hints
from tests.unit.test_merge_flats_s41 import key, spec


@pytest.mark.parametrize(
    ("text", "hints"),
    [
        ("3号楼5楼502", {"building": "3", "floor": "5", "room": "502"}),
        ("五楼502，老人摔倒了", {"floor": "5", "room": "502"}),
        ("3号楼2单元5楼503", {"building": "3", "unit": "2", "floor": "5", "room": "503"}),
        ("3号楼12层1201", {"building": "3", "floor": "12", "room": "1201"}),
        ("5楼 503", {"floor": "5", "room": "503"}),
    ],
)
def test_a_room_after_its_floor_is_read(text: str, hints: dict[str, str]) -> None:
    assert place_hints(text) == hints


@pytest.mark.parametrize(
    ("text", "hints"),
    [
        ("住12楼2023年搬来的", {"floor": "12"}),
        ("住5楼，1200元一个月", {"floor": "5"}),
        ("5楼100块钱", {"floor": "5"}),
        ("背老人下楼100多米", {}),
        ("3-2-502", {"building": "3", "unit": "2", "room": "502", "floor": "5"}),
        ("12楼3单元502", {"building": "12", "unit": "3", "room": "502", "floor": "5"}),
        ("3号楼2单元502室", {"building": "3", "unit": "2", "room": "502", "floor": "5"}),
    ],
)
def test_no_room_is_made_up_and_the_other_forms_stay(text: str, hints: dict[str, str]) -> None:
    """Guards (they pass on the old code too): no year, price or distance becomes a room."""
    assert place_hints(text) == hints


PAIRS = [
    ("3号楼5楼502，我妈摔倒了起不来", "3号楼5楼503，我爸摔倒了起不来"),
    ("3号楼2单元5楼502，老人摔倒了起不来", "3号楼2单元5楼503，老人摔倒了起不来"),
    ("3栋五楼502，老人晕倒了没有呼吸", "3栋五楼503，老人晕倒了没有呼吸"),
    ("3号楼12层1201，老人晕倒了没有呼吸", "3号楼12层1202，老人晕倒了没有呼吸"),
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_two_flats_of_one_floor_are_two_merge_keys(a: str, b: str) -> None:
    sa, sb = spec(a, "m1"), spec(b, "m2")
    assert sa.is_life_threatening() and sb.is_life_threatening()
    assert sa.place.building_id == sb.place.building_id == "b3"
    assert flat_of(sa) != flat_of(sb)
    assert key(sa) != key(sb)
    # The room reaches the accepting helper's address.
    assert a.split("，")[0][-3:] in (sa.contact.address or "")


def test_the_same_flat_written_with_and_without_its_floor_is_one_key() -> None:
    a = spec("3号楼5楼502，我妈摔倒了起不来", "m1")
    b = spec("3号楼502，我妈摔倒了起不来", "m2")
    assert key(a) == key(b)


def test_a_year_after_the_floor_is_no_flat() -> None:
    """A guard (passes on the old code too): a year is not read as a room."""
    a = spec("3号楼12楼2023年做过手术的老人摔倒了起不来", "m1")
    b = spec("3号楼12楼2024年做过手术的老人摔倒了起不来", "m2")
    assert "20" not in (a.contact.address or "")
    assert flat_of(a) == flat_of(b) and key(a) == key(b)


@pytest.mark.parametrize(
    ("text", "hints"),
    [
        ("5楼1230前到", {"floor": "5"}),
        ("5楼200人", {"floor": "5"}),
        ("5楼120平米", {"floor": "5"}),
        ("5楼 120急救车来了", {"floor": "5"}),
        ("5楼 138 1234 5678", {"floor": "5"}),
        ("住5楼2023.12搬来", {"floor": "5"}),
        ("5楼 2023-12-08", {"floor": "5"}),
        ("5楼100公斤的冰箱", {"floor": "5"}),
        ("5楼500ml", {"floor": "5"}),
        ("5楼 1000w的电器", {"floor": "5"}),
        ("5楼 100%", {"floor": "5"}),
        # Northern usage: 3楼 is building 3, 502 is on floor 5, not a room of floor 3.
        ("3楼502", {"floor": "3"}),
        ("5楼 120到了吗 502室", {"floor": "5", "room": "502"}),
    ],
)
def test_a_number_after_a_floor_is_a_room_only_when_it_starts_with_that_floor(
    text: str, hints: dict[str, str]
) -> None:
    """Review of cd30169: any 3-4 digits after N楼 became the room, the earliest room won."""
    assert place_hints(text) == hints


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "3号楼5楼 120到了吗 502室老人晕倒了没有呼吸",
            "3号楼5楼 120到了吗 503室老人晕倒了没有呼吸",
        ),
        (
            "3号楼5楼 1230前有人来吗，502室老人摔倒了起不来",
            "3号楼5楼 1230前有人来吗，503室老人摔倒了起不来",
        ),
    ],
)
def test_an_explicit_room_is_not_overridden_by_a_number_after_the_floor(a: str, b: str) -> None:
    """Both read room 120/1230: two flats, one merge key, the helper sent to a wrong flat."""
    sa, sb = spec(a, "m1"), spec(b, "m2")
    assert sa.is_life_threatening() and sb.is_life_threatening()
    assert flat_of(sa) != flat_of(sb)
    assert key(sa) != key(sb)
    assert "502" in (sa.contact.address or "") and "503" in (sb.contact.address or "")

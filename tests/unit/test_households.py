"""Households with vulnerability tags (issue 14 item 2): the ledger, and how tags raise a
contact-card request's urgency."""

from __future__ import annotations

import pytest

from dispatcher.core.households import household_urgency
from dispatcher.roster.households import parse_households
from dispatcher.roster.ledger import RosterFileError, RosterPlace
from schemas.households import Vulnerability as V
from schemas.vocab import Category, Urgency

COMMUNITY = RosterPlace("siming")

HOUSEHOLDS = (
    "小区,楼栋,单元,户号,户主,电话,标签,年龄,结对\n"
    "图强小区,3号楼,2,502,王阿婆,0592-5551234,独居、高龄,88,13800000001、h-lin\n"
    "图强小区,A座,,1201,李伯,13700000002,失能、会飞,,张三\n"
    "图强小区,5号楼,1,301,陈叔,,,86岁,\n"
    "图强小区,,1,302,没楼栋,,,,\n"
    "图强小区,3号楼,2,502,重复,,,,\n"
)


def test_household_ledger_tags_age_and_paired_helpers() -> None:
    parsed = parse_households(HOUSEHOLDS.encode(), COMMUNITY)
    by_name = {h.household.name: h for h in parsed.households}
    wang = by_name["王阿婆"]
    assert wang.household.tags == (V.LIVES_ALONE, V.AGED_85_PLUS)
    assert wang.household.household_id == wang.household.place.household_id
    assert wang.household.place.building_id == "b3" and wang.household.place.unit == "2"
    assert wang.paired_refs == ["13800000001", "h-lin"]
    assert by_name["李伯"].household.tags == (V.DISABLED_CARE,)
    assert by_name["李伯"].household.place.building_id == "bA"
    assert by_name["陈叔"].household.tags == (V.AGED_85_PLUS,)  # from the age alone
    assert [p.row for p in parsed.problems] == [5, 6]  # no building; the same household twice
    assert sorted(c.column for c in parsed.cells) == ["标签", "结对"]  # 会飞, 张三 left out


def test_household_ledger_needs_its_place_columns_and_is_csv() -> None:
    with pytest.raises(RosterFileError, match="户号"):
        parse_households("小区,楼栋,标签\n图强小区,3号楼,独居\n".encode(), COMMUNITY)
    with pytest.raises(RosterFileError, match="CSV"):
        parse_households(b"PK\x03\x04rest", COMMUNITY)


@pytest.mark.parametrize(
    ("category", "urgency", "tags", "expected"),
    [
        # 独居 + 85+: a fall is at least urgent.
        (Category.FALL, Urgency.NORMAL, {V.LIVES_ALONE, V.AGED_85_PLUS}, Urgency.URGENT),
        # Alone, any age: a fall has nobody at home to wait with.
        (Category.FALL, Urgency.LOW, {V.LIVES_ALONE}, Urgency.URGENT),
        (Category.MEDICAL, Urgency.NORMAL, {V.DISABLED_CARE}, Urgency.URGENT),
        (Category.MEDICAL, Urgency.NORMAL, {V.LIVES_ALONE}, Urgency.NORMAL),  # alone, not frail
        (Category.LOST_PERSON, Urgency.NORMAL, {V.AGED_85_PLUS}, Urgency.URGENT),
        (Category.ERRAND, Urgency.LOW, {V.AGED_85_PLUS}, Urgency.NORMAL),
        (Category.ERRAND, Urgency.LOW, set(), Urgency.LOW),  # no tags: unchanged
        (Category.FALL, Urgency.CRITICAL, {V.LIVES_ALONE}, Urgency.CRITICAL),  # never lowered
        (Category.TECH_HELP, Urgency.URGENT, {V.DISABILITY}, Urgency.URGENT),
    ],
)
def test_vulnerability_raises_urgency_never_lowers(category, urgency, tags, expected) -> None:
    raised, why = household_urgency(category, urgency, tags)
    assert raised is expected
    assert (why is not None) == (raised is not urgency)


def test_the_dev_bots_know_the_story_senders_households_so_the_paired_ring_is_reached() -> None:
    """The finding of the last stop: a chat message from a dev bot never reached the paired
    ring (no member map); the demo's elders' senders are now known as their households."""
    from dispatcher.api.messages import known_sender
    from dispatcher.groupchat.dev_bots import dev_bots
    from dispatcher.ops.demo_district import STORY_PAIRINGS
    from schemas.places import PlacePath
    from schemas.requests import RequestSpec

    spec = RequestSpec(
        request_id="r",
        community_id="demo-zhonghua",
        place=PlacePath(community_id="demo-zhonghua", compound_id="c11", building_id="b3"),
        category=Category.CARRYING,
        urgency=Urgency.NORMAL,
    )
    for bot in dev_bots():
        known = known_sender(spec, bot.members.get("u-zheng"))
        assert known.household_for_pairing() == "h-elder-88" in STORY_PAIRINGS["demo-zhonghua"]
        assert known_sender(spec, bot.members.get("u-stranger")) is spec

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


def test_household_ledger_needs_its_place_columns() -> None:
    with pytest.raises(RosterFileError, match="户号"):
        parse_households("小区,楼栋,标签\n图强小区,3号楼,独居\n".encode(), COMMUNITY)


def test_household_ledger_reads_xlsx_through_the_same_hardened_reader() -> None:
    from tests.security.xlsx_files import build, inline_rows, sheet_xml

    rows = [r.split(",") for r in HOUSEHOLDS.strip().split("\n")]
    parsed = parse_households(build(sheet_xml(inline_rows(rows), "A1:I6")), COMMUNITY)
    assert sorted(h.household.name or "" for h in parsed.households) == ["李伯", "王阿婆", "陈叔"]
    assert [p.row for p in parsed.problems] == [5, 6]
    with pytest.raises(RosterFileError):  # not a zip at all, though it says so
        parse_households(b"PK\x03\x04rest", COMMUNITY)


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://evil","x")', "@SUM(A1)", "+cmd|' /C calc'!A0", "\t=1+1"]
)
def test_a_formula_cell_rejects_its_row_in_either_ledger(cell: str) -> None:
    from dispatcher.roster.ledger import parse_roster

    households = parse_households(
        f"小区,楼栋,户号,户主,地址\n图强小区,3号楼,502,王阿婆,{cell.replace(',', ' ')}\n"
        "图强小区,3号楼,503,李伯,\n".encode(),
        COMMUNITY,
    )
    assert [h.household.name for h in households.households] == ["李伯"]
    [problem] = households.problems
    assert problem.row == 2 and "公式" in problem.errors[0] and "地址" in problem.errors[0]
    helpers = parse_roster(
        f"姓名,电话,楼栋,小区\n{cell.replace(',', ' ')},13800000001,3号楼,图强小区\n".encode(),
        COMMUNITY,
    )
    assert helpers.profiles == [] and "公式" in helpers.problems[0].errors[0]


def test_a_phone_or_a_dash_is_not_a_formula() -> None:
    from dispatcher.roster.ledger import looks_like_formula

    assert not any(map(looks_like_formula, ["+86 138 0000 0001", "-", "+86-138", "—", "85+"]))


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


def test_rekey_helpers_moves_the_household_ledgers_pairings_with_the_helper() -> None:
    from datetime import UTC, datetime

    from dispatcher.helper_ids import legacy_helper_id
    from dispatcher.maintenance.rekey_helpers import move_commands, plan_moves
    from dispatcher.sealing import keyring
    from dispatcher.settings import Settings
    from schemas.helpers import HelperProfile
    from schemas.places import PlacePath
    from schemas.records import HelperState

    old = legacy_helper_id("siming", "13800000001")
    profile = HelperProfile(
        helper_id=old,
        phone="13800000001",
        place=PlacePath(community_id="siming", compound_id="c1", building_id="b3"),
        paired_household_ids=("hh-own",),
    )
    state = HelperState(profile=profile, household_pairs=("hh-card",))
    [move] = plan_moves([state], Settings())
    commands = move_commands(move, datetime(2026, 12, 1, tzinfo=UTC))
    assert [c.body.type for c in commands] == [
        "upsert_helper",
        "pair_household",
        "deactivate_helper",
    ]
    ring = keyring(Settings())  # household ids travel keyed (12.7), both ledgers' alike
    pair = commands[1].body
    assert (pair.helper_id, pair.household_id) == (
        move.new.helper_id,
        ring.household_key("siming", "hh-card"),
    )
    assert move.new.helper_id != old
    assert move.new.paired_household_ids == (ring.household_key("siming", "hh-own"),)

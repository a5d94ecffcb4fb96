"""Whole-community ledgers: many compounds per file, buildings with any name, households and
pairing, per-cell problems that leave the row in, ids that agree with the bots'."""

from __future__ import annotations

import pytest

from dispatcher.classify import classify
from dispatcher.groupchat.bots import GroupPlace, building_id_for
from dispatcher.roster.ledger import RosterFileError, RosterPlace, parse_roster
from dispatcher.roster.places import building, compound_id_for, household_id
from schemas.vocab import Role, Skill

COMMUNITY = RosterPlace("siming")

LEDGER = (
    "小区,小区编号,网格,姓名,电话,楼栋,单元,户号,结对,技能,党员,渠道,平台账号\n"
    "图强小区,tuqiang,g1,张建国,13800000001,3号楼,2,502,3-2-601、5号楼1单元301,开车,是,wecom:g1,zhangjg\n"
    "图强小区,tuqiang,g1,李秀英,13800000002,A座,,,,护士、开飞机,否,,\n"
    "中华城,,g2,王强,13800000003,3幢,1,,,水电,也许,企业微信!,\n"
    "中华城,,g2,赵六,138000,综合楼,,,,搬运,否,,\n"
)


def test_one_file_many_compounds() -> None:
    parsed = parse_roster(LEDGER.encode(), COMMUNITY)
    assert parsed.rows == 4 and len(parsed.profiles) == 3
    by_name = {p.name: p for _, p in parsed.profiles}
    assert by_name["张建国"].place.compound_id == "tuqiang"  # its 小区编号
    zhonghua = compound_id_for("siming", "中华城")
    assert by_name["王强"].place.compound_id == zhonghua and zhonghua.startswith("c-")
    assert by_name["王强"].place.compound_name == "中华城" and by_name["王强"].place.grid_id == "g2"
    assert {(c.compound_id, c.name, c.rows) for c in parsed.report().compounds} == {
        ("tuqiang", "图强小区", 2),
        (zhonghua, "中华城", 1),
    }
    (tuqiang,) = [c for c in parsed.report().compounds if c.compound_id == "tuqiang"]
    assert tuqiang.buildings == {"3号楼": "b3", "A座": "bA"}


def test_required_cells_reject_the_row_other_cells_are_left_out() -> None:
    parsed = parse_roster(LEDGER.encode(), COMMUNITY)
    (rejected,) = parsed.problems
    assert rejected.row == 5 and rejected.errors[0].startswith("电话:")
    cells = {(c.row, c.column) for c in parsed.cells}
    assert cells == {(3, "技能"), (4, "党员"), (4, "渠道")}
    li = next(p for _, p in parsed.profiles if p.name == "李秀英")
    assert li.skills == (Skill.NURSE,)  # the known word kept, 开飞机 reported
    assert any("开飞机" in c.error for c in parsed.cells)
    wang = next(p for _, p in parsed.profiles if p.name == "王强")
    assert wang.channels == () and not wang.party_member


def test_households_pairing_channels_and_platform_ids() -> None:
    parsed = parse_roster(LEDGER.encode(), COMMUNITY)
    zhang = next(p for _, p in parsed.profiles if p.name == "张建国")
    assert zhang.place.household_id == "hh-tuqiang-b3-2-502"
    assert zhang.paired_household_ids == ("hh-tuqiang-b3-2-601", "hh-tuqiang-b5-1-301")
    # The paired household's own id, written the other ways a ledger writes it, agrees.
    assert household_id("601", "tuqiang", "b3", "2") == "hh-tuqiang-b3-2-601"
    assert household_id("5号楼1单元301室", "tuqiang", None, None) == "hh-tuqiang-b5-1-301"
    assert zhang.channels == ("wecom:g1",) and zhang.platform_user_id == "zhangjg"
    assert "zhangjg" not in repr(zhang) and "13800000001" not in repr(zhang)


@pytest.mark.parametrize(
    ("cell", "building_id", "name"),
    [
        ("3号楼", "b3", "3号楼"),
        ("3", "b3", "3号楼"),
        ("3栋", "b3", "3栋"),
        ("3幢", "b3", "3幢"),
        ("三号楼", "b3", "三号楼"),
        ("12#楼", "b12", "12#楼"),
        ("A座", "bA", "A座"),
        ("b栋", "bB", "b栋"),
    ],
)
def test_buildings_with_any_name(cell: str, building_id: str, name: str) -> None:
    b = building(cell)
    assert b is not None and (b.building_id, b.name) == (building_id, name)


def test_other_building_names_get_stable_ids() -> None:
    a, b = building("综合楼"), building(" 综合 楼 ")
    assert a is not None and b is not None and a.building_id == b.building_id
    assert a.building_id.startswith("b-") and a.name == "综合楼"
    assert building("") is None and building("楼" * 40) is None


@pytest.mark.parametrize("message", ["A座门口有老人摔倒了", "3号楼有人晕倒了快来", "5栋漏水"])
def test_bots_and_ledgers_agree_on_building_ids(message: str) -> None:
    hint = classify(message).place_hints.building  # what the bot path reads
    group = GroupPlace(community_id="siming", compound_id="tuqiang")
    written = next(w for w in ("A座", "3号楼", "5栋") if w in message)
    roster = building(written)
    assert roster is not None and building_id_for(group, hint) == roster.building_id


def test_no_compound_anywhere_is_refused_not_dropped() -> None:
    single = "姓名,电话,楼栋\n张三,13800000001,3号楼\n".encode()
    with pytest.raises(RosterFileError, match="小区"):
        parse_roster(single, COMMUNITY)
    parsed = parse_roster(single, RosterPlace("siming", "tuqiang", "图强小区"))
    assert parsed.profiles[0][1].place.building_key() == ("siming", "tuqiang", "b3")


def test_empty_compound_cell_falls_back_to_the_file_compound() -> None:
    data = "小区,姓名,电话,楼栋\n,张三,13800000001,3号楼\n中华城,李四,13800000002,1\n".encode()
    parsed = parse_roster(data, RosterPlace("siming", "tuqiang", "图强小区"))
    assert [p.place.compound_id for _, p in parsed.profiles] == [
        "tuqiang",
        compound_id_for("siming", "中华城"),
    ]
    bare = parse_roster(data.replace("\n,张三".encode(), "\n,张三".encode()), COMMUNITY)
    assert bare.problems[0].row == 2 and bare.problems[0].errors[0].startswith("小区:")


PARTY_LEDGER = (
    "姓名,电话,小区,楼栋,党员,职务,支部,楼道党小组,团队\n"
    "陈楼长,13900000001,图强小区,3号楼,,党员楼长,图强小区党支部,3号楼党小组,帮帮团\n"
    "林队长,13900000002,图强小区,5号楼,是,志愿者,图强小区党支部,,帮帮团(队长)、红管家\n"
    "吴师傅,13900000003,图强小区,5号楼,否,队长,,,能人服务队\n"
    "黄阿姨,13900000004,图强小区,6号楼,否,,,,<script>\n"
)


def test_party_roles_branch_group_and_teams_from_the_ledger() -> None:
    parsed = parse_roster(PARTY_LEDGER.encode(), COMMUNITY)
    by_name = {p.name: p for _, p in parsed.profiles}
    head = by_name["陈楼长"]
    assert Role.BUILDING_HEAD in head.roles and head.is_party_member and head.first_responder
    assert (head.party_branch, head.party_group) == ("图强小区党支部", "3号楼党小组")
    assert (head.teams, head.leads_teams) == (("帮帮团",), ())
    leader = by_name["林队长"]
    assert (leader.teams, leader.leads_teams) == (("帮帮团", "红管家"), ("帮帮团",))
    assert not leader.first_responder  # a party member, but no building head
    assert by_name["吴师傅"].leads_teams == ("能人服务队",)  # 职务 队长: leads what is listed
    assert by_name["黄阿姨"].teams == ()
    assert [(c.column, c.error.split(" ")[0]) for c in parsed.cells] == [("团队", "团队名称不对")]

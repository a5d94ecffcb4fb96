"""Ledger parsing: Chinese headers, skills, party membership, availability, row reports."""

from __future__ import annotations

from datetime import time

import pytest

from dispatcher.api.roster import (
    RosterFileError,
    RosterPlace,
    helper_id_for,
    parse_availability,
    parse_roster,
    parse_skills,
)
from schemas.vocab import Role, Skill

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")


def test_skills_in_chinese() -> None:
    skills, unknown = parse_skills("开车、医生/护士 水电，搬运")
    assert skills == (
        Skill.DRIVING,
        Skill.DOCTOR,
        Skill.NURSE,
        Skill.PLUMBING,
        Skill.ELECTRICAL,
        Skill.CARRYING,
    )
    assert unknown == []
    assert parse_skills("开飞机")[1] == ["开飞机"]


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("周一至周五 18:00-22:00", (0, 1, 2, 3, 4), time(18), time(22)),
        ("工作日晚上", (0, 1, 2, 3, 4), time(18), time(22)),
        ("周末全天", (5, 6), time(0), time(0)),
        ("晚上7-10点", tuple(range(7)), time(19), time(22)),
        ("周六上午", (5,), time(8), time(12)),
    ],
)
def test_availability(text: str, days: tuple[int, ...], start: time, end: time) -> None:
    (window,) = parse_availability(text)
    assert window.weekdays == days and (window.window.start, window.window.end) == (start, end)


def test_any_time_and_unreadable() -> None:
    assert parse_availability("") == () and parse_availability("随时") == ()
    with pytest.raises(ValueError):
        parse_availability("有空就来")


def test_rows_and_report() -> None:
    csv = (
        "姓名,电话,楼栋,单元,技能,党员,可服务时间,身份\n"
        "张建国,13800000001,3号楼,二单元,开车,是,工作日晚上,楼长\n"
        "李四,1380000,3号楼,,开车,否,,\n"
    ).encode()
    parsed = parse_roster(csv, WHERE)
    assert parsed.rows == 2 and len(parsed.profiles) == 1
    row, p = parsed.profiles[0]
    assert row == 2 and p.place.building_id == "b3" and p.place.unit == "2"
    assert p.is_party_member and Role.BUILDING_HEAD in p.roles
    assert p.helper_id == helper_id_for("siming", "13800000001")
    assert parsed.problems[0].row == 3 and "电话" in parsed.problems[0].errors[0]


def test_file_level_errors() -> None:
    with pytest.raises(RosterFileError):
        parse_roster(b"", WHERE)
    with pytest.raises(RosterFileError):
        parse_roster("姓名,技能\n张三,开车\n".encode(), WHERE)  # no phone, no building
    with pytest.raises(RosterFileError):
        parse_roster(b"PK\x03\x04not a zip", WHERE)

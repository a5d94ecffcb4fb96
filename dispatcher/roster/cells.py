"""Reading one ledger cell: skill words, party membership, availability ("周一至周五 8-18点").
Pure; each parser returns what it understood and leaves the rest to the caller's report."""

from __future__ import annotations

import re
import unicodedata
from datetime import time

from schemas.helpers import TimeWindow, WeeklyWindow
from schemas.vocab import Role, Skill

SKILL_WORDS: tuple[tuple[str, tuple[Skill, ...]], ...] = (
    ("开车", (Skill.DRIVING,)),
    ("司机", (Skill.DRIVING,)),
    ("有车", (Skill.DRIVING,)),
    ("驾驶", (Skill.DRIVING,)),
    ("医生", (Skill.DOCTOR,)),
    ("医师", (Skill.DOCTOR,)),
    ("护士", (Skill.NURSE,)),
    ("护理", (Skill.NURSE,)),
    ("急救", (Skill.FIRST_AID,)),
    ("搬运", (Skill.CARRYING,)),
    ("力气", (Skill.CARRYING,)),
    ("水电", (Skill.PLUMBING, Skill.ELECTRICAL)),
    ("水管", (Skill.PLUMBING,)),
    ("电工", (Skill.ELECTRICAL,)),
    ("维修", (Skill.PLUMBING, Skill.ELECTRICAL)),
    ("照顾老人", (Skill.ELDER_CARE,)),
    ("养老", (Skill.ELDER_CARE,)),
    ("陪护", (Skill.ELDER_CARE,)),
    ("看孩子", (Skill.CHILD_CARE,)),
    ("带孩子", (Skill.CHILD_CARE,)),
    ("托管", (Skill.CHILD_CARE,)),
    ("跑腿", (Skill.ERRANDS,)),
    ("买药", (Skill.ERRANDS,)),
    ("代购", (Skill.ERRANDS,)),
    ("手机", (Skill.TECH_HELP,)),
    ("电脑", (Skill.TECH_HELP,)),
    ("法律", (Skill.LEGAL,)),
    ("律师", (Skill.LEGAL,)),
    ("闽南话", (Skill.TRANSLATION,)),
    ("翻译", (Skill.TRANSLATION,)),
    ("手语", (Skill.TRANSLATION,)),
    ("都可以", (Skill.GENERAL,)),
    ("帮忙", (Skill.GENERAL,)),
)
ROLE_WORDS: tuple[tuple[str, Role], ...] = (
    ("楼长", Role.BUILDING_HEAD),
    ("网格长", Role.GRID_LEADER),
    ("网格员", Role.GRID_WORKER),
    ("支部书记", Role.COMPOUND_PARTY_SECRETARY),
    ("社区工作人员", Role.COMMUNITY_STAFF),
    ("社工", Role.COMMUNITY_STAFF),
    ("物业", Role.PROPERTY_MANAGEMENT),
    ("共建单位", Role.CO_BUILDING_UNIT),
    ("志愿者", Role.VOLUNTEER),
)
_YES = {"是", "党员", "中共党员", "预备党员", "y", "yes", "true", "1", "✓", "√"}
_NO = {"否", "不是", "群众", "非党员", "n", "no", "false", "0", ""}
SPLIT = re.compile(r"[、,，;；/|\s]+")
# ASCII digits only (`\d` takes every script's digits: "13８０００００１０２" was a phone of its
# own, another keyed id and digest than 13800000102); `phone_text` first, which makes
# full-width digits ASCII.
PHONE = re.compile(r"^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")
_PHONE_GAPS = re.compile(r"[\s-]")


def phone_text(text: str) -> str:
    """A phone as typed (a ledger cell, the join form) as the ledger stores it, before
    `PHONE` checks it: NFKC first, so what a Chinese IME in full-width mode types is ASCII
    ("１３８－０００" is "138-000", "＋８６" is "+86"), then no spaces or dashes, no +86.
    Digits of other scripts stay as they are, and `PHONE` refuses them."""
    return _PHONE_GAPS.sub("", unicodedata.normalize("NFKC", text)).removeprefix("+86")


ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
UNIT = re.compile(r"^(\d{1,2}|[一二三四五六七八九十])\s*(?:单元)?$")
CN_DIGITS = {c: str(i) for i, c in enumerate("一二三四五六七八九十", start=1)}
# The words before an hour that say which half of the day it is in, longest first
# (傍晚 before 晚, 半夜 before 夜): "晚上10点" is 22:00, "晚上12点" midnight, "凌晨1点" 01:00.
_HALF_OF_DAY = {
    **dict.fromkeys(("半夜", "凌晨", "清晨", "早上", "早晨", "上午", "早"), "morning"),
    **dict.fromkeys(("下午", "傍晚"), "afternoon"),
    **dict.fromkeys(("晚上", "晚间", "夜间", "夜里", "夜晚", "晚", "夜"), "evening"),
}
_CUE = re.compile("|".join(sorted(_HALF_OF_DAY, key=len, reverse=True)))
_TIME_RANGE = re.compile(
    r"(?P<h1>\d{1,2})(?:[:：](?P<m1>\d{2}))?\s*点?\s*[-~至到—]\s*"
    rf"(?P<cue2>{_CUE.pattern})?\s*(?P<h2>\d{{1,2}})(?:[:：](?P<m2>\d{{2}}))?"
)
_DAY = r"(?:周|星期)([一二三四五六日天])"
_DAY_SPAN = re.compile(_DAY + r"\s*[至到~-]\s*(?:周|星期)?([一二三四五六日天])")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def parse_skills(text: str) -> tuple[tuple[Skill, ...], list[str]]:
    skills: list[Skill] = []
    unknown: list[str] = []
    for word in (w for w in SPLIT.split(text.strip()) if w):
        hits = [s for cue, ss in SKILL_WORDS if cue in word for s in ss]
        if hits:
            skills.extend(hits)
        else:
            unknown.append(word)
    return tuple(dict.fromkeys(skills)), unknown


def parse_party(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _YES or ("党员" in t and "非" not in t):
        return True
    if t in _NO:
        return False
    return None


def _weekdays(text: str) -> tuple[int, ...] | None:
    if "工作日" in text:
        return (0, 1, 2, 3, 4)
    if "周末" in text or "双休" in text:
        return (5, 6)
    span = _DAY_SPAN.search(text)
    if span:
        a, b = _WEEKDAYS[span.group(1)], _WEEKDAYS[span.group(2)]
        return tuple(range(a, b + 1)) if a <= b else (*range(a, 7), *range(0, b + 1))
    days = re.findall(_DAY, text)
    if days:
        return tuple(sorted({_WEEKDAYS[d] for d in days}))
    if any(w in text for w in ("每天", "天天", "全天", "随时", "任何")):
        return tuple(range(7))
    return None


def _hour(hour: int, cue: str | None) -> int:
    """A written hour on the 24-hour clock (24: midnight) after its half-of-day word."""
    half = _HALF_OF_DAY.get(cue or "")
    if hour == 12 and half in ("morning", "evening"):
        return 0 if half == "morning" else 24  # 凌晨12点 / 晚上12点: midnight
    if hour < 12 and half in ("afternoon", "evening"):
        return hour + 12
    return hour


def _start_cue(text: str, m: re.Match[str]) -> str | None:
    """The half-of-day word nearest before the range ("工作日晚上10点-6点"), else one after a
    range on the 12-hour clock ("10-6点夜班"; "8-18点，晚上不行" names no half of the day)."""
    before = _CUE.findall(text[: m.start()])
    if before:
        return str(before[-1])
    after = _CUE.search(text[m.end() :])
    return after.group() if after and max(int(m["h1"]), int(m["h2"])) <= 12 else None


def _range(text: str, m: re.Match[str]) -> TimeWindow:
    h1, m1, h2, m2 = int(m["h1"]), int(m["m1"] or 0), int(m["h2"]), int(m["m2"] or 0)
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError("time out of range")
    cue = _start_cue(text, m)
    start = _hour(h1, cue)
    end = _hour(h2, m["cue2"] or cue)
    if not m["cue2"] and (end, m2) <= (start, m1):
        # "晚上10点-6点": an end before the evening's start is the next morning's hour.
        end = h2
    return TimeWindow(start=time(start % 24, m1), end=time(end % 24, m2))


def _window(text: str) -> TimeWindow | None:
    m = _TIME_RANGE.search(text)
    if m:
        return _range(text, m)
    for words, start, end in (
        (("全天", "随时", "24小时"), time(0), time(0)),
        (("上午",), time(8), time(12)),
        (("下午",), time(13), time(18)),
        (("白天",), time(8), time(18)),
        (("晚上", "夜间", "晚间"), time(18), time(22)),
    ):
        if any(w in text for w in words):
            return TimeWindow(start=start, end=end)
    return None


def parse_availability(text: str) -> tuple[WeeklyWindow, ...]:
    """ "" / 随时 → any time; "工作日晚上", "周一至周五 18:00-22:00", "周末全天" … ."""
    t = text.strip()
    if not t or t in {"随时", "全天", "任何时间", "不限"}:
        return ()
    out: list[WeeklyWindow] = []
    for part in (p for p in re.split(r"[;；,，、]+", t) if p.strip()):
        days = _weekdays(part)
        window = _window(part)
        if days is None and window is None:
            raise ValueError(f"cannot read availability {part!r}")
        out.append(
            WeeklyWindow(
                weekdays=days or tuple(range(7)),
                window=window or TimeWindow(start=time(0), end=time(0)),
            )
        )
    return tuple(out)


# A team cell: "帮帮团(队长)、红管家" — the teams a helper belongs to; "(队长)" (or 队长/团长
# after the name) marks the ones they lead. A team's id is its name.
_LEADER = re.compile(r"[（(]?\s*(?:队长|团长|组长|负责人)\s*[)）]?$")
TEAM_NAME = re.compile(r"^[\w\u4e00-\u9fff·-]{1,32}$")


def parse_teams(text: str, leads_all: bool = False) -> tuple[list[str], list[str], list[str]]:
    """(teams, teams led, unreadable names). `leads_all`: the roles cell says 队长, so the
    helper leads every team listed."""
    teams: list[str] = []
    leads: list[str] = []
    bad: list[str] = []
    for word in (w for w in re.split(r"[、,，;；/|]+", text) if w.strip()):
        name, n = _LEADER.subn("", word.strip())
        name = name.strip()
        if not TEAM_NAME.match(name):
            bad.append(word.strip())
            continue
        teams.append(name)
        if n or leads_all:
            leads.append(name)
    return list(dict.fromkeys(teams)), list(dict.fromkeys(leads)), bad

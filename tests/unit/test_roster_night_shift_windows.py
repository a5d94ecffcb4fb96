"""A ledger's 可服务时间 on the 12-hour clock, read as the hours the helper means, from the
ledger import to the availability the core offers requests by.

Review finding: "晚上10点-6点" became 22:00-18:00 and "夜间10-6点" 10:00-06:00, so a night-shift
helper was offered requests at 10:30 in the morning. A window past midnight is one whose end
is not after its start (`TimeWindow`: 22:00-06:00), its small hours the previous day's shift.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from dispatcher.roster.cells import parse_availability
from dispatcher.roster.ledger import RosterPlace, parse_roster
from schemas.commands import SubmitRequest, UpsertHelper
from schemas.helpers import HelperProfile
from schemas.vocab import Skill, Urgency
from tests.unit.conftest import COMMUNITY, World

WHERE = RosterPlace(COMMUNITY, "tuqiang", "图强小区", "g1")
EVERY_DAY = tuple(range(7))
# Tuesday 2024-03-05 in Xiamen (UTC+8), the helpers' own clock.
TUESDAY = datetime(2024, 3, 5, tzinfo=UTC) - timedelta(hours=8)

# (cell, its window, local times inside it, local times outside it)
SPELLINGS = [
    ("晚上10点-6点", (time(22), time(6)), ["23:00", "03:00"], ["10:30", "18:00"]),
    ("夜间10-6点", (time(22), time(6)), ["22:00", "05:59"], ["10:30", "06:00"]),
    ("晚上11点-1点", (time(23), time(1)), ["23:30", "00:30"], ["11:30", "13:00"]),
    ("晚上7点-10点", (time(19), time(22)), ["19:00", "21:59"], ["07:30", "22:30"]),
    ("下午2点-6点", (time(14), time(18)), ["14:00", "17:00"], ["02:30", "18:30"]),
    ("早上6点-晚上10点", (time(6), time(22)), ["06:00", "21:00"], ["05:00", "22:30"]),
    ("晚8点到早8点", (time(20), time(8)), ["20:00", "07:30"], ["08:30", "19:00"]),
]


@pytest.mark.parametrize(("cell", "window"), [(cell, window) for cell, window, _, _ in SPELLINGS])
def test_a_cell_reads_as_the_hours_it_means(cell: str, window: tuple[time, time]) -> None:
    (weekly,) = parse_availability(cell)
    assert (weekly.window.start, weekly.window.end) == window
    assert weekly.weekdays == EVERY_DAY


@pytest.mark.parametrize(
    ("cell", "window"),
    [
        ("工作日晚上10点-6点", (time(22), time(6))),
        ("晚上12点-6点", (time(0), time(6))),  # midnight, not noon
        ("晚上7点-12点", (time(19), time(0))),
        ("10-6点夜班", (time(22), time(6))),
        ("晚上20点-6点", (time(20), time(6))),
        ("8-18点，晚上不行", (time(8), time(18))),  # a 24-hour range needs no word
        ("上午9点-下午5点", (time(9), time(17))),
        ("凌晨1-5点", (time(1), time(5))),
    ],
)
def test_more_spellings(cell: str, window: tuple[time, time]) -> None:
    weekly = parse_availability(cell)[0]
    assert (weekly.window.start, weekly.window.end) == window


def imported(cell: str) -> HelperProfile:
    """One ledger row with this 可服务时间, through the import's parser, read without a note."""
    header = "姓名,电话,楼栋,单元,技能,党员,可服务时间\n"
    csv = f"{header}张师傅,13800000001,3号楼,二单元,开车,否,{cell}\n"
    parsed = parse_roster(csv.encode(), WHERE)
    assert parsed.problems == [] and parsed.cells == []
    [(_, profile)] = parsed.profiles
    return profile


def offered_at(profile: HelperProfile, local: datetime) -> bool:
    """Whether the core offers this helper, alone in the building, an urgent drive then."""
    w = World()
    w.now = local
    w.run(UpsertHelper(profile=profile))
    here = profile.place.model_copy(update={"household_id": "hh-requester"})
    decision = w.run(
        SubmitRequest(spec=w.spec(place=here, urgency=Urgency.URGENT, skills=(Skill.DRIVING,)))
    )
    return w.offered(decision) == [profile.helper_id]


def at(clock: str, day: datetime = TUESDAY) -> datetime:
    return day + timedelta(hours=int(clock[:2]), minutes=int(clock[3:]))


@pytest.mark.parametrize(("cell", "window", "inside", "outside"), SPELLINGS)
def test_the_imported_helper_is_offered_only_within_the_hours_written(
    cell: str, window: tuple[time, time], inside: list[str], outside: list[str]
) -> None:
    profile = imported(cell)
    assert [(w.window.start, w.window.end) for w in profile.availability] == [window]
    assert [c for c in inside if not offered_at(profile, at(c))] == []
    assert [c for c in outside if offered_at(profile, at(c))] == []


def test_a_weekday_night_shift_runs_into_the_next_morning() -> None:
    """Friday night's shift covers Saturday 02:00; Sunday night's (not written) not Monday's."""
    profile = imported("工作日晚上10点-6点")
    saturday, monday = TUESDAY + timedelta(days=4), TUESDAY + timedelta(days=6)
    assert offered_at(profile, at("02:00", saturday))
    assert not offered_at(profile, at("23:00", saturday))
    assert not offered_at(profile, at("02:00", monday))
    assert offered_at(profile, at("02:00", monday + timedelta(days=1)))

"""A community's configured zone is its helpers' clock: their do-not-disturb and availability
windows (entered as local HH:MM) and their load's local day are read in it, as its quiet
hours are; a helper's own profile offset only where the community has no zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from dispatcher.config.policies import policy_for
from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import eligible_rank, is_available
from dispatcher.core.entry import HelperEntry
from schemas.commands import SetDoNotDisturb, UpsertHelper
from schemas.config import CommunityConfig
from schemas.helpers import TimeWindow, WeeklyWindow
from schemas.plans import PLAN_SETS
from schemas.vocab import Skill, Urgency
from tests.unit.conftest import COMMUNITY, World


def zoned(world: World, zone: str) -> None:
    cfg = CommunityConfig.model_validate(
        {"community_id": COMMUNITY, "display_name": "x", "time_zone": zone}
    )
    world.state.communities = {COMMUNITY: policy_for(cfg, PLAN_SETS)}


def sleepy(world: World, offset: int | None = None) -> None:
    """A driver with do-not-disturb 22:00-07:00 (and an explicit profile offset if given)."""
    profile = world.helper("sleepy", skills=[Skill.DRIVING])
    if offset is not None:
        world.run(UpsertHelper(profile=profile.model_copy(update={"utc_offset_minutes": offset})))
    world.run(SetDoNotDisturb(helper_id="sleepy", window=TimeWindow(start=time(22), end=time(7))))


def offered_urgent(world: World, request_id: str, at: datetime) -> list[str]:
    world.now = at
    return world.offered(world.submit(request_id, urgency=Urgency.URGENT))


def test_dnd_is_read_on_the_communitys_zone_not_the_default_offset():
    # The reviewer's scenario: Asia/Urumqi is +06:00, the profile's default +08:00.
    w = World()
    zoned(w, "Asia/Urumqi")
    sleepy(w)
    assert w.state.helpers["sleepy"].profile.utc_offset_minutes == 480
    # 00:00 UTC is 06:00 in Urumqi (08:00 at +08:00): inside the helper's night.
    assert offered_urgent(w, "at-six", datetime(2024, 3, 6, 0, 0, tzinfo=UTC)) == []
    # 02:00 UTC is 08:00 in Urumqi: awake.
    assert offered_urgent(w, "at-eight", datetime(2024, 3, 6, 2, 0, tzinfo=UTC)) == ["sleepy"]


def test_the_community_zone_wins_over_an_explicit_profile_offset():
    w = World()
    zoned(w, "Asia/Urumqi")
    sleepy(w, offset=540)  # +09:00: 09:00 there at 00:00 UTC, awake
    assert offered_urgent(w, "r", datetime(2024, 3, 6, 0, 0, tzinfo=UTC)) == []


def test_without_a_configured_zone_the_profile_offset_still_applies():
    w = World()
    sleepy(w, offset=360)  # +06:00, no community settings
    assert offered_urgent(w, "at-six", datetime(2024, 3, 6, 0, 0, tzinfo=UTC)) == []
    assert offered_urgent(w, "at-eight", datetime(2024, 3, 6, 2, 0, tzinfo=UTC)) == ["sleepy"]


@pytest.mark.parametrize(
    ("at", "offered"),
    [
        # 06:30 and 07:30 local, at UTC+2 in summer and UTC+1 in winter: the other
        # season's offset would move each by an hour, across the window's 07:00 end.
        (datetime(2024, 7, 2, 4, 30, tzinfo=UTC), []),
        (datetime(2024, 7, 2, 5, 30, tzinfo=UTC), ["sleepy"]),
        (datetime(2024, 1, 9, 5, 30, tzinfo=UTC), []),
        (datetime(2024, 1, 9, 6, 30, tzinfo=UTC), ["sleepy"]),
    ],
)
def test_a_daylight_saving_zone_is_read_at_its_offset_of_the_day(at, offered):
    w = World()
    zoned(w, "Europe/Berlin")
    sleepy(w)
    assert offered_urgent(w, "r", at) == offered


def test_the_load_counters_day_turns_at_the_communitys_midnight():
    w = World()
    zoned(w, "Asia/Urumqi")
    w.helper("driver", skills=[Skill.DRIVING])
    # 17:30 UTC is 23:30 on the 5th in Urumqi (already 01:30 on the 6th at +08:00).
    offered_urgent(w, "late", datetime(2024, 3, 5, 17, 30, tzinfo=UTC))
    load = w.state.helpers["driver"].load
    assert (load.day, load.offers_today) == (date(2024, 3, 5), 1)
    # 18:30 UTC is 00:30 on the 6th in Urumqi: a new day, its count starts again.
    offered_urgent(w, "after-midnight", datetime(2024, 3, 5, 18, 30, tzinfo=UTC))
    load = w.state.helpers["driver"].load
    assert (load.day, load.offers_today, load.offers_total) == (date(2024, 3, 6), 1, 2)


@pytest.mark.parametrize(
    ("at", "available"),
    [
        # 07:30 in Urumqi (09:30 at +08:00): outside the helper's 08:00-20:00.
        (datetime(2024, 3, 6, 1, 30, tzinfo=UTC), False),
        (datetime(2024, 3, 6, 2, 30, tzinfo=UTC), True),  # 08:30 there
    ],
)
def test_scan_and_index_ranker_read_availability_on_the_community_clock(at, available):
    w = World()
    zoned(w, "Asia/Urumqi")
    profile = w.helper(
        "days",
        skills=[Skill.DRIVING],
        availability=[WeeklyWindow(window=TimeWindow(start=time(8), end=time(20)))],
    )
    entry = HelperEntry.from_state(w.state.helpers[profile.helper_id])
    w.submit("r")  # any request of the community: its search context is what is read
    ctx = SearchContext.for_request(w.request("r"), at)
    ctx.clock.on_community(w.state.communities[COMMUNITY])
    assert is_available(entry, ctx) is available  # the scan's (and the whistle ring's)
    assert (eligible_rank(entry, ctx, 0, True) is not None) is available  # the index's

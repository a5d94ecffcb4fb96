"""Session 40 audit: a helper who pressed 今晚值守 (on call tonight: `dnd_override_until`)
was still not offered anything outside their weekly availability (the ledger's hours,
08:00-18:00 say): eligibility checked the hours before it looked at the override, which
lifted only do-not-disturb. So an urgent request at 20:00 reached nobody who had said "I am
on call tonight". While the override lasts it now lifts the hours too; once it ends the
hours hold again (and they always hold for a helper not on call, critical or not:
`test_core_rules.test_weekly_availability_window_in_local_time`). The world's clock starts
on a Tuesday at 20:00 in Xiamen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.core.context import SearchContext
from dispatcher.core.scan import scan_search
from schemas.commands import SetHelperStatus
from schemas.helpers import WeeklyWindow
from schemas.requests import SkillNeed
from schemas.vocab import Ring, Skill, Urgency
from tests.unit.conftest import World

ON_CALL = timedelta(hours=16)  # 今晚值守 at 20:00 lasts until the next local noon


def _day_helper(world: World, helper_id: str, on_call: timedelta | None = None) -> None:
    """A driver whose ledger hours are 08:00-18:00, on call for `on_call` from now."""
    days = [WeeklyWindow(window=world.window("08:00", "18:00"))]  # type: ignore[attr-defined]
    world.helper(helper_id, skills=[Skill.DRIVING], availability=days)
    if on_call is not None:
        until = world.now + on_call
        world.run(SetHelperStatus(helper_id=helper_id, dnd_override_until=until))


@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.CRITICAL])
def test_on_call_helper_is_offered_outside_their_hours(world: World, urgency: Urgency) -> None:
    _day_helper(world, "on-call", on_call=ON_CALL)
    _day_helper(world, "off-duty")
    world.submit(urgency=urgency)  # 20:00, outside both helpers' hours
    assert world.offered() == ["on-call"]


def test_an_ended_override_no_longer_lifts_the_hours(world: World) -> None:
    _day_helper(world, "was-on-call", on_call=timedelta(hours=1))
    world.later(3600)  # 21:00, the instant it ends
    world.submit(urgency=Urgency.URGENT)
    world.tick()  # past the first rung too: nobody at all
    assert world.offered() == []


def test_index_and_scan_agree_on_on_call_helpers(world: World) -> None:
    """The index's inlined ranker and the reference scan read the override alike, while
    it lasts and after, under a plan that keeps do-not-disturb and one that waives it."""
    _day_helper(world, "on-call", on_call=ON_CALL)
    _day_helper(world, "short-call", on_call=timedelta(hours=1))
    _day_helper(world, "off-duty")
    world.helper("anytime", skills=[Skill.DRIVING])
    world.helper("asleep", skills=[Skill.DRIVING], dnd=world.window("19:00", "07:00"))  # type: ignore[attr-defined]
    world.submit("urgent", urgency=Urgency.URGENT)
    world.submit("critical", urgency=Urgency.CRITICAL)
    need = SkillNeed(skills=(Skill.DRIVING,))
    expected = {
        # 20:00: both overrides in force.
        (0, "urgent"): {"on-call", "short-call", "anytime"},
        (0, "critical"): {"on-call", "short-call", "anytime", "asleep"},
        # 21:00: the one-hour override has ended.
        (1, "urgent"): {"on-call", "anytime"},
        (1, "critical"): {"on-call", "anytime", "asleep"},
    }
    for (hours, request_id), helpers in expected.items():
        now = world.now + timedelta(hours=hours)
        ctx = SearchContext.for_request(world.request(request_id), now)
        by_index = world.state.index.search(ctx, need, Ring.COMMUNITY, 10, set())
        by_scan = scan_search(
            world.state.index.entries.values(), ctx, need, Ring.COMMUNITY, 10, set()
        )
        assert by_index == by_scan
        assert {c.helper_id for c in by_index} == helpers, (hours, request_id)

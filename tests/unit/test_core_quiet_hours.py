"""A helper's own quiet hours (SetDoNotDisturb): respected for urgent requests, waived for
critical ones, cleared again with an empty window."""

from __future__ import annotations

from datetime import timedelta

from schemas.commands import SetDoNotDisturb
from schemas.helpers import TimeWindow
from schemas.vocab import Skill, Urgency


def quiet_now(world) -> TimeWindow:
    local = world.now + timedelta(hours=8)  # China time, the profiles' default offset
    return TimeWindow(
        start=(local - timedelta(hours=1)).time().replace(microsecond=0),
        end=(local + timedelta(hours=1)).time().replace(microsecond=0),
    )


def test_quiet_hours_keep_urgent_offers_away(world):
    world.helper("quiet", skills=[Skill.DRIVING])
    world.helper("awake", skills=[Skill.DRIVING])
    d = world.run(SetDoNotDisturb(helper_id="quiet", window=quiet_now(world)))
    assert [e.body.type for e in d.events] == ["helper_updated"]
    assert world.state.helpers["quiet"].profile.do_not_disturb == quiet_now(world)
    world.submit(urgency=Urgency.URGENT, skills=[Skill.DRIVING])
    assert world.offered() == ["awake"]


def test_critical_requests_still_wake_a_quiet_helper(world):
    world.helper("quiet", skills=[Skill.DRIVING])
    world.run(SetDoNotDisturb(helper_id="quiet", window=quiet_now(world)))
    world.submit(urgency=Urgency.CRITICAL, skills=[Skill.DRIVING])
    assert world.offered() == ["quiet"]


def test_clearing_quiet_hours_and_repeats_are_harmless(world):
    world.helper("quiet", skills=[Skill.DRIVING])
    world.run(SetDoNotDisturb(helper_id="quiet", window=quiet_now(world)))
    assert world.run(SetDoNotDisturb(helper_id="quiet", window=quiet_now(world))).events == ()
    world.run(SetDoNotDisturb(helper_id="quiet", window=None))
    world.submit(urgency=Urgency.URGENT, skills=[Skill.DRIVING])
    assert world.offered() == ["quiet"]


def test_unknown_helper_is_rejected(world):
    d = world.run(SetDoNotDisturb(helper_id="nobody", window=None))
    assert [e.body.reason for e in d.events] == ["unknown_helper"]

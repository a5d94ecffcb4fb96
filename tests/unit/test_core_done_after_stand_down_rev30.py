"""Review 30: "done" pressed after the request stood the helper down (a cancellation, a
referral) counts no service; worked-out minutes end at the request's closing and at
MAX_MINUTES_SPENT, like typed ones."""

from __future__ import annotations

import pytest

from schemas.commands import (
    MAX_MINUTES_SPENT,
    CancelRequest,
    CommandBody,
    CompleteAssignment,
    MarkOnMyWay,
    ReferRequest,
)
from schemas.records import RequestStatus
from schemas.vocab import Party, ReferralTarget, Skill, Urgency

STAND_DOWNS: dict[str, CommandBody] = {
    "cancelled": CancelRequest(request_id="req-1", by=Party.REQUESTER, reason="no longer needed"),
    "referred": ReferRequest(request_id="req-1", to=ReferralTarget.PROPERTY),
}


def _assigned(world, **spec) -> None:
    for hid in ("driver-a", "driver-b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit(**spec)
    world.accept("driver-a")


@pytest.mark.parametrize("how", sorted(STAND_DOWNS))
def test_done_after_the_helper_was_stood_down_counts_no_service(world, how):
    _assigned(world)
    world.later(120)
    world.run(STAND_DOWNS[how])
    assert world.request().status is RequestStatus(how)
    world.later(10 * 3600)  # the page left open: 已完成 pressed hours later
    out = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    assert world.of_type("assignment_completed", out) == []
    [no] = world.of_type("command_rejected", out)
    assert (no.reason, no.helper_id, no.detail) == ("request_closed", "driver-a", how)
    assert world.request().assignments[0].done_at is None
    assert world.state.helpers["driver-a"].load.service_seconds_total == 0
    # 我在路上 was refused alike already.
    way = world.run(MarkOnMyWay(request_id="req-1", helper_id="driver-a"))
    assert [r.reason for r in world.of_type("command_rejected", way)] == ["request_closed"]


def test_done_before_a_cancellation_keeps_its_minutes(world):
    _assigned(world, helpers_needed=2)
    world.later(600)
    world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a", minutes=30))
    world.run(STAND_DOWNS["cancelled"])
    again = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    assert again.events == ()  # a second tap: nothing new, nothing refused
    assert world.request().assignments[0].minutes == 30
    assert world.state.helpers["driver-a"].load.service_seconds_total == 30 * 60


def test_worked_out_minutes_end_when_the_request_closed(world):
    _assigned(world)  # critical: a 2 h lifetime
    accepted_at = world.now
    while world.request().next_deadline is not None:
        world.tick()
    r = world.request()
    assert r.status is RequestStatus.RESOLVED and r.closed_at is not None
    world.later(23 * 3600)  # done pressed the next day
    out = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    [done] = world.of_type("assignment_completed", out)
    expected = round((r.closed_at - accepted_at).total_seconds() / 60)
    assert (done.minutes, done.minutes_given) == (expected, False)
    assert expected <= 2 * 60


def test_worked_out_minutes_are_capped_like_typed_ones(world):
    _assigned(world, urgency=Urgency.LOW)  # a 72 h lifetime: still open a day later
    world.later(25 * 3600)
    assert not world.request().terminal
    out = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    [done] = world.of_type("assignment_completed", out)
    assert done.minutes == MAX_MINUTES_SPENT
    load = world.state.helpers["driver-a"].load
    assert load.service_seconds_total == MAX_MINUTES_SPENT * 60

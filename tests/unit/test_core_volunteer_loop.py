"""The accepted helper's own buttons through decide/apply: on my way, can't come after
all (the slot reopens and the ladder offers it again), done (service minutes)."""

from __future__ import annotations

from schemas.commands import CompleteAssignment, MarkOnMyWay, ResolveRequest, WithdrawHelper
from schemas.records import RequestStatus
from schemas.vocab import Party, Skill


def _two_drivers_one_assigned(world):
    for hid in ("driver-a", "driver-b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    world.accept("driver-a")
    assert world.request().status is RequestStatus.FILLED


def test_withdraw_reopens_the_slot_and_the_ladder_offers_it_again(world):
    _two_drivers_one_assigned(world)
    world.helper("driver-far", building="9", compound="other", grid="g2", skills=[Skill.DRIVING])
    assert "driver-far" not in world.offered()  # wave one: the building ring only
    world.later(60)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="driver-a"))
    assert [w.helper_id for w in world.of_type("helper_withdrawn", out)] == ["driver-a"]
    assert world.request().status is RequestStatus.OPEN
    # At once, in the same decision: driver-b, stood down only because the slot was
    # covered, is asked again in the building ring before the ladder climbs to farther
    # helpers (before session 40 the ring read as empty: it climbed and asked driver-far).
    assert world.offered(out) == ["driver-b"]
    assert not world.of_type("ring_escalated", out)
    again = world.accept("driver-b")
    assert [a.helper_id for a in world.of_type("helper_assigned", again)] == ["driver-b"]
    assert world.request().status is RequestStatus.FILLED


def test_done_records_the_minutes_given_and_resolves_when_everyone_is_done(world):
    _two_drivers_one_assigned(world)
    world.later(5 * 60)
    way = world.run(MarkOnMyWay(request_id="req-1", helper_id="driver-a"))
    assert [e.helper_id for e in world.of_type("helper_set_off", way)] == ["driver-a"]
    assert world.run(MarkOnMyWay(request_id="req-1", helper_id="driver-a")).events == ()
    world.later(3 * 3600)  # the helper forgot to press "done" for hours
    done = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a", minutes=45))
    [completed] = world.of_type("assignment_completed", done)
    assert (completed.minutes, completed.minutes_given) == (45, True)
    assert world.state.helpers["driver-a"].load.service_seconds_total == 45 * 60
    assert world.request().assignments[0].minutes == 45
    [resolved] = world.of_type("request_resolved", done)
    assert resolved.by is Party.HELPER and resolved.helper_ids == ("driver-a",)
    assert world.request().status is RequestStatus.RESOLVED
    # A second "done" changes nothing; "can't come" after "done" is refused.
    assert world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a")).events == ()
    late = world.run(WithdrawHelper(request_id="req-1", helper_id="driver-a"))
    assert [r.reason for r in world.of_type("command_rejected", late)] == ["request_closed"]


def test_done_without_minutes_counts_accept_to_done(world):
    _two_drivers_one_assigned(world)
    world.later(25 * 60 + 20)
    done = world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    [completed] = world.of_type("assignment_completed", done)
    assert (completed.minutes, completed.minutes_given) == (25, False)


def test_withdraw_after_done_is_refused_while_the_request_is_open(world):
    world.helper("driver-a", skills=[Skill.DRIVING])
    world.helper("driver-b", skills=[Skill.DRIVING])
    world.submit(helpers_needed=2)
    world.accept("driver-a")
    world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a", minutes=10))
    assert world.request().status is RequestStatus.OPEN  # one slot still open
    late = world.run(WithdrawHelper(request_id="req-1", helper_id="driver-a"))
    assert [r.reason for r in world.of_type("command_rejected", late)] == ["already_done"]
    assert world.request().assignments[0].active


def test_only_the_assigned_helper_can_press_the_buttons(world):
    _two_drivers_one_assigned(world)
    for body in (
        MarkOnMyWay(request_id="req-1", helper_id="driver-b"),
        CompleteAssignment(request_id="req-1", helper_id="driver-b", minutes=600),
    ):
        out = world.run(body)
        assert [r.reason for r in world.of_type("command_rejected", out)] == ["not_assigned"]
    assert world.state.helpers["driver-b"].load.service_seconds_total == 0


def test_lifetime_and_staff_resolution_count_no_hours(world):
    _two_drivers_one_assigned(world)
    world.later(10 * 3600)
    world.run(ResolveRequest(request_id="req-1", by=Party.STAFF))
    assert world.state.helpers["driver-a"].load.service_seconds_total == 0

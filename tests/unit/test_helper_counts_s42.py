"""Session 42 (audit H2): what a helper's record keeps and counts.

- A member their leader signed up never accepted: giving the slot back costs no ranking.
- A late accept of an offer counted no answer (expired, push failed) counts once.
"""

from __future__ import annotations

from schemas.commands import (
    ReportDeliveryFailure,
    WithdrawHelper,
)
from schemas.records import OfferStatus
from schemas.vocab import Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_core_team_members import _accept_naming, _carry, _team

# --- a member signed up by their leader -----------------------------------------------------


def _member_signed_up() -> World:
    world = World()
    _team(world)
    _carry(world, 3)
    _accept_naming(world, "member-1")
    world.later(60)
    return world


def test_a_member_signed_up_by_their_leader_is_not_charged_a_withdrawal() -> None:
    """The member never accepted (`team_members.signed_up` counts no answer of theirs);
    their 去不了了 was charged `withdrawn_total`, 1.2 accepts against an accept never
    counted: a newcomer member fell from 0.5 to 0.0, below any decliner."""
    world = _member_signed_up()
    before = world.state.helpers["member-1"].load.responsiveness()
    world.run(WithdrawHelper(request_id="req-1", helper_id="member-1"))
    load = world.state.helpers["member-1"].load
    assert world.of_type("helper_withdrawn"), "the withdrawal itself still happens"
    assert load.withdrawn_total == 0
    assert load.responsiveness() >= before - 1e-9, (
        f"member charged for a sign-up they never accepted: {before:.2f} -> "
        f"{load.responsiveness():.2f} ({load})"
    )


def test_the_leader_who_accepted_and_withdraws_is_still_charged() -> None:
    world = _member_signed_up()
    leader = world.request().assignments[0].helper_id
    world.run(WithdrawHelper(request_id="req-1", helper_id=leader))
    assert world.state.helpers[leader].load.withdrawn_total == 1


# --- a late accept ----------------------------------------------------------------------


def test_a_late_accept_is_not_also_counted_as_no_answer() -> None:
    """An offer whose time ran out counts `no_answer`; the helper then presses 能来 (the
    link works until the request's end, a late answer fills a free slot) and is assigned.
    The no-answer stayed: one offer counted as an accept and a no-answer (0.50, not 0.67)."""
    world = World()
    world.helper("late", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    while world.request().offers[0].status is OfferStatus.OPEN:
        world.tick()
    assert world.request().offers[0].status is OfferStatus.EXPIRED
    assert world.state.helpers["late"].load.no_answer_total == 1
    world.later(60)
    out = world.accept("late")
    assert world.of_type("helper_assigned", out), "late accept should be assigned"
    load = world.state.helpers["late"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 0), load
    assert abs(load.responsiveness() - 2 / 3) < 1e-9


def test_an_accept_after_a_failed_push_counts_once() -> None:
    """A failed push counts no answer (`delivery_failed`); the helper, reached another way
    (the link forwarded by staff, their page), accepts: one answer, an accept."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    world.run(
        ReportDeliveryFailure(request_id="req-1", offer_id=world.offer_id("a"), helper_id="a")
    )
    assert world.state.helpers["a"].load.no_answer_total == 1
    assert world.of_type("helper_assigned", world.accept("a"))
    load = world.state.helpers["a"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 0), load


def test_an_accept_in_time_takes_no_answer_back() -> None:
    """Only the offer's own no-answer is taken back: one counted for another offer stays."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.submit("req-0")
    while world.request("req-0").offers[0].status is OfferStatus.OPEN:
        world.tick("req-0")
    world.later(60)
    world.submit()
    assert world.of_type("helper_assigned", world.accept("a"))
    load = world.state.helpers["a"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 1), load

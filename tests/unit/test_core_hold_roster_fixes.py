"""Review fixes of the core (review of session 29): the quiet-hours hold survives any
answer to a team staff called onto a held request; a deactivated helper's offer is stood
down and replaced, and their late accept refused; a leader cannot sign up the requester;
a referral stands down the helper on their way."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.commands import (
    AcceptOffer,
    DeactivateHelper,
    ReferRequest,
    ReportDeliveryFailure,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.records import OfferStatus, RequestStatus
from schemas.staff_actions import CallTeam
from schemas.vocab import Category, ReferralTarget, Ring, Skill, Urgency
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_core_community_settings import chore, quiet
from tests.unit.test_core_party_teams import person

TEAM = "帮帮团"

# --- the quiet-hours hold --------------------------------------------------------------


def _held_with_a_called_team(world: World) -> None:
    """A chore for two held at 20:00 until 07:00; staff call a team (leader far away)
    onto it; three neighbours in the requester's building would take it."""
    person(world, "leader", building="9", leads_teams=(TEAM,))
    person(world, "member", building="9", teams=(TEAM,))  # a team of two: may go for two
    for hid in ("n1", "n2", "n3"):
        world.helper(hid)
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world, helpers_needed=2)
    world.run(CallTeam(request_id="req-1", team_id=TEAM, by="li.wei"))
    assert world.offered() == ["leader"]


def _leader_accepts(world: World, members: int) -> Any:
    offer_id = world.offer_id("leader")
    return world.run(
        AcceptOffer(request_id="req-1", offer_id=offer_id, helper_id="leader", members=members)
    )


def _fills_then_withdraws(world: World) -> Any:
    _leader_accepts(world, 2)
    assert world.request().status is RequestStatus.FILLED
    return world.run(WithdrawHelper(request_id="req-1", helper_id="leader"))


ANSWERS = {
    "declines": lambda w: w.decline("leader"),
    "push fails": lambda w: w.run(
        ReportDeliveryFailure(
            request_id="req-1", offer_id=w.offer_id("leader"), helper_id="leader", reason="x"
        )
    ),
    "accepts for one of two": lambda w: _leader_accepts(w, 1),
    "fills, then withdraws": _fills_then_withdraws,
    "is deactivated": lambda w: w.run(DeactivateHelper(helper_id="leader")),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_an_answer_to_a_called_team_wakes_nobody_while_held(world, answer):
    _held_with_a_called_team(world)
    held = world.request()
    decision = ANSWERS[answer](world)
    assert world.offered(decision) == [] and not world.of_type("ring_escalated", decision)
    r = world.request()
    assert (r.step, r.held_until) == (0, held.held_until)
    assert r.next_deadline == held.held_until  # the release is still due at 07:00
    # At 07:00 the ladder starts on the rung it was held at (the paired ring, empty here,
    # gives way to the building at once), and the neighbours are asked then.
    released = world.tick()
    assert world.now == held.held_until
    assert world.of_type("request_released", released)
    [climbed] = world.of_type("ring_escalated", released)
    assert (climbed.from_ring, climbed.to_ring) == (Ring.PAIRED, Ring.BUILDING)
    assert set(world.offered(released)) == {"n1", "n2", "n3"}


def test_a_decline_after_the_hold_ends_but_before_the_release_waits_for_it(world):
    _held_with_a_called_team(world)
    held_until = world.request().held_until
    assert held_until is not None
    world.now = held_until  # the release's timer has not fired yet
    decision = world.decline("leader")
    assert world.offered(decision) == [] and world.request().step == 0
    released = world.tick()
    assert world.of_type("request_released", released)
    assert set(world.offered(released)) == {"n1", "n2", "n3"}


def test_a_request_a_called_team_filled_while_held_ends_at_its_lifetime(world):
    _held_with_a_called_team(world)
    _leader_accepts(world, 2)
    r = world.request()
    assert r.status is RequestStatus.FILLED and r.next_deadline == r.ends_at
    world.tick()
    r = world.request()
    assert r.status is RequestStatus.RESOLVED and r.closed_at == r.ends_at
    assert not world.of_type("request_released")


# --- a deactivated helper ------------------------------------------------------------------


def _offered_to_a(world: World) -> None:
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", skills=[Skill.DRIVING], building="4")
    world.submit(urgency=Urgency.URGENT)
    assert world.offered() == ["a"]


def _leave_roster_as(world: World, how: str) -> Any:
    if how == "deactivated":
        return world.run(DeactivateHelper(helper_id="a"))
    profile = world.state.helpers["a"].profile
    return world.run(UpsertHelper(profile=profile.model_copy(update={"active": False})))


@pytest.mark.parametrize("how", ["deactivated", "stored inactive"])
def test_a_helper_off_the_roster_is_stood_down_and_replaced(world, how):
    _offered_to_a(world)
    decision = _leave_roster_as(world, how)
    assert [(s.helper_id, s.was_assigned) for s in world.of_type("offer_stood_down", decision)] == [
        ("a", False)
    ]
    assert world.offered(decision) == ["b"]  # the open offer no longer counts as pending
    offers = {o.helper_id: o.status for o in world.request().offers}
    assert offers == {"a": OfferStatus.STOOD_DOWN, "b": OfferStatus.OPEN}


def test_a_deactivated_helpers_accept_is_refused(world):
    _offered_to_a(world)
    world.run(DeactivateHelper(helper_id="a"))
    decision = world.accept("a")
    assert [(e.reason, e.detail) for e in world.of_type("command_rejected", decision)] == [
        ("unknown_helper", "deactivated")
    ]
    assert not world.of_type("helper_assigned", decision)
    r = world.request()
    assert r.status is RequestStatus.OPEN and not r.assignments


def test_an_offer_left_open_by_an_earlier_deactivation_is_refused_then_stood_down(world):
    _offered_to_a(world)
    # The state a deactivation before this rule left: inactive, their offer still open.
    a = world.state.helpers["a"]
    world.state.helpers["a"] = a.model_copy(
        update={"profile": a.profile.model_copy(update={"active": False})}
    )
    world.state.index.remove("a")
    refused = world.accept("a")
    assert [e.reason for e in world.of_type("command_rejected", refused)] == ["unknown_helper"]
    again = world.run(DeactivateHelper(helper_id="a"))
    assert [s.helper_id for s in world.of_type("offer_stood_down", again)] == ["a"]
    assert world.offered(again) == ["b"]


# --- the requester named as a team member --------------------------------------------------


@pytest.mark.parametrize("known_by", ["id", "phone"])
def test_a_leader_cannot_sign_up_the_requester(world, known_by):
    person(world, "leader", teams=(TEAM,), leads_teams=(TEAM,), skills=[Skill.CARRYING])
    person(world, "m1", teams=(TEAM,), skills=[Skill.CARRYING])
    person(world, "me", teams=(TEAM,), phone="13800000000")  # the requester's phone
    world.submit(
        category=Category.CARRYING,
        urgency=Urgency.URGENT,
        skills=(Skill.CARRYING,),
        helpers_needed=3,
        requester_helper_id="me" if known_by == "id" else None,
    )
    assert "me" not in world.offered()  # as the waves do
    decision = world.run(
        AcceptOffer(
            request_id="req-1",
            offer_id=world.offer_id("leader"),
            helper_id="leader",
            members=3,
            member_ids=("m1", "me"),
        )
    )
    assert [(e.reason, e.detail) for e in world.of_type("command_rejected", decision)] == [
        ("not_a_team_member", "me")
    ]
    r = world.request()
    assert not r.assignments and r.status is RequestStatus.OPEN


# --- a referral ----------------------------------------------------------------------------


def test_a_referral_tells_the_helper_on_their_way_as_a_cancellation_does(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    world.accept("a")
    decision = world.run(ReferRequest(request_id="req-1", to=ReferralTarget.PROPERTY))
    stood = world.of_type("offer_stood_down", decision)
    assert [(s.helper_id, s.was_assigned, s.reason) for s in stood] == [("a", True, "referred")]

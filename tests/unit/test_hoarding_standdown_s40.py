"""An accept that gives a helper an in-person errand stands down their open offers of other
requests' in-person needs (`helping_elsewhere`, request_commands._stand_down_elsewhere):
they can no longer accept them (core/presence.py), so each of those requests asks someone
else in the same decision instead of waiting out its rung for nobody. Their phone offers
stay open; nobody is pushed about it; a replay decides the same."""

from __future__ import annotations

from typing import Any

from dispatcher.core.decide import decide
from dispatcher.core.state import DispatchState
from dispatcher.core.trusted import updated
from schemas.commands import AcceptOffer
from schemas.records import OfferStatus, RequestStatus
from schemas.requests import SkillNeed
from schemas.vocab import Category, Skill
from tests.support.team_accept import accept_for_team
from tests.unit.conftest import REFERENCE_PLANS, World
from tests.unit.test_core_party_teams import person
from tests.unit.test_hoarding_s40 import _chore, _fall
from tests.unit.test_push_deliveries import ROBOTS, planner, registry


def _by_phone(world: World, request_id: str) -> None:
    needs = (SkillNeed(skills=(Skill.NURSE,), count=1),)
    assert needs[0].remote
    world.submit(request_id, category=Category.MEDICAL, needs=needs, skills=(Skill.NURSE,))


def _offer(world: World, helper_id: str, request_id: str) -> Any:
    return next(o for o in world.request(request_id).offers if o.helper_id == helper_id)


def _two_falls(world: World) -> None:
    """`a` and `b` offered both falls (sent before either was taken) and a phone need;
    `c` came on the roster after, offered nothing yet."""
    world.helper("a", skills=[Skill.FIRST_AID, Skill.NURSE])
    world.helper("b", skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    _fall(world, "req-2")
    _by_phone(world, "req-3")
    assert {"a", "b"} <= {o.helper_id for o in world.request("req-2").offers}
    assert _offer(world, "a", "req-3").status is OfferStatus.OPEN
    world.helper("c", skills=[Skill.FIRST_AID])


def test_accepting_one_stands_down_the_other_in_person_offer_and_asks_someone_at_once(world):
    _two_falls(world)
    out = world.accept("a", "req-1")
    assert set(out.requests) == {"req-1", "req-2"}
    stood = [
        (e.request_id, e.body.reason, tuple(o.helper_id for o in e.body.offers))
        for e in out.events
        if e.body.type == "offers_stood_down"
    ]
    assert ("req-2", "helping_elsewhere", ("a",)) in stood
    r2 = world.request("req-2")
    assert _offer(world, "a", "req-2").status is OfferStatus.STOOD_DOWN
    # Replaced in the same decision: c, whom the rung had not asked, is asked now.
    asked = [e for e in out.events if e.request_id == "req-2" and e.body.type == "offers_sent"]
    assert [o.helper_id for e in asked for o in e.body.offers] == ["c"]
    assert _offer(world, "c", "req-2").status is OfferStatus.OPEN
    assert r2.status is RequestStatus.OPEN and r2.assignments == ()
    # b's offer on req-2 is untouched, and nothing counted against a.
    assert _offer(world, "b", "req-2").status is OfferStatus.OPEN
    assert world.state.helpers["a"].load.declined_total == 0


def test_the_phone_offer_stays_open_and_may_still_be_taken(world):
    _two_falls(world)
    out = world.accept("a", "req-1")
    assert "req-3" not in out.requests
    assert _offer(world, "a", "req-3").status is OfferStatus.OPEN
    taken = world.accept("a", "req-3")
    assert [x.helper_id for x in world.of_type("helper_assigned", taken)] == ["a"]


def test_a_phone_accept_stands_nothing_down(world):
    _two_falls(world)
    out = world.accept("a", "req-3")
    assert set(out.requests) == {"req-3"}
    assert _offer(world, "a", "req-2").status is OfferStatus.OPEN


def test_the_stood_down_offer_pressed_later_is_refused_and_the_slot_stays_for_others(world):
    _two_falls(world)
    world.accept("a", "req-1")
    out = world.accept("a", "req-2")
    assert [e.reason for e in world.of_type("command_rejected", out)] == ["helping_elsewhere"]
    taken = world.accept("c", "req-2")
    assert [x.helper_id for x in world.of_type("helper_assigned", taken)] == ["c"]


def test_an_offer_left_open_from_before_this_rule_is_refused_closed_and_replaced(world):
    """A record stored before accepts stood offers down elsewhere: a's req-2 offer still
    open while they hold req-1. Pressed, it is refused and closed as before
    (`_busy_elsewhere`), and c asked at once."""
    _two_falls(world)
    world.accept("a", "req-1")
    r2 = world.request("req-2")
    reopened = [
        updated(o, status=OfferStatus.OPEN, closed_at=None) if o.helper_id == "a" else o
        for o in r2.offers
        if o.helper_id != "c"
    ]
    world.state.requests["req-2"] = updated(r2, offers=tuple(reopened))
    out = world.accept("a", "req-2")
    assert [e.reason for e in world.of_type("command_rejected", out)] == ["helping_elsewhere"]
    assert _offer(world, "a", "req-2").status is OfferStatus.DECLINED
    assert world.offered(out) == ["c"]


def test_nobody_is_pushed_about_it(world):
    _two_falls(world)
    out = world.accept("a", "req-1")
    [event] = [
        e for e in out.events if e.request_id == "req-2" and e.body.type == "offers_stood_down"
    ]
    assert event.body.reason == "helping_elsewhere"
    plans = planner(world, registry(*ROBOTS))
    assert plans.plan(event).deliveries == []
    # The same stand-down for a covered slot would reach a: it is the reason that is quiet.
    covered = updated(event, body=updated(event.body, reason="covered"))
    assert [d.recipient for d in plans.plan(covered).deliveries] == ["a"]


def test_a_team_leader_taking_slots_is_stood_down_elsewhere(world):
    lead = {"teams": ("帮帮团",), "leads_teams": ("帮帮团",)}
    person(world, "leader", **lead, skills=[Skill.CARRYING, Skill.FIRST_AID])
    person(world, "m-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    world.helper("b", skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    world.submit("req-9", category=Category.CARRYING, skills=(Skill.CARRYING,), helpers_needed=2)
    assert _offer(world, "leader", "req-1").status is OfferStatus.OPEN
    out = accept_for_team(world, "req-9", "leader", "m-near")
    assert "req-1" in out.requests
    assert _offer(world, "leader", "req-1").status is OfferStatus.STOOD_DOWN


def test_a_replay_decides_the_same(world):
    _two_falls(world)
    command = world.command(
        AcceptOffer(request_id="req-1", offer_id=world.offer_id("a", "req-1"), helper_id="a")
    )
    # Read back in another order (a restart): the same events, ids and records.
    live = list(world.state.requests.live())
    twin = DispatchState.rebuild(list(world.state.helpers.values()), live[::-1], REFERENCE_PLANS)
    first = decide(world.state, command, world.now)
    again = decide(twin, command, world.now)
    assert first == again
    assert "req-2" in first.requests


def _fall_and_chore(world: World) -> None:
    """`a` offered a critical fall and a low chore, both in person, neither taken."""
    world.helper("a", skills=[Skill.FIRST_AID, Skill.CARRYING])
    world.helper("b", skills=[Skill.FIRST_AID, Skill.CARRYING])
    _fall(world, "fall")
    _chore(world, "chore")
    assert _offer(world, "a", "fall").status is OfferStatus.OPEN
    assert _offer(world, "a", "chore").status is OfferStatus.OPEN


def test_taking_a_chore_leaves_the_critical_offer_open(world):
    _fall_and_chore(world)
    out = world.accept("a", "chore")
    assert "fall" not in out.requests
    # Only b's chore offer, covered now; nothing of the fall's.
    assert [e.request_id for e in out.events if e.body.type == "offers_stood_down"] == ["chore"]
    assert _offer(world, "a", "fall").status is OfferStatus.OPEN


def test_taking_the_critical_one_stands_the_chore_offer_down(world):
    _fall_and_chore(world)
    out = world.accept("a", "fall")
    stood = [
        (e.request_id, e.body.reason, tuple(o.helper_id for o in e.body.offers))
        for e in out.events
        if e.body.type == "offers_stood_down"
    ]
    assert ("chore", "helping_elsewhere", ("a",)) in stood
    assert _offer(world, "a", "chore").status is OfferStatus.STOOD_DOWN

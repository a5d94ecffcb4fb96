"""In-person holds within one decision and after their cap (session 40, review 2).

1. A team's leader who accepts in person naming a member stands down the leader's other
   in-person offers and tops those requests up in the same decision
   (request_commands._stand_down_elsewhere). The index learns of the new holds only once the
   decision is applied, and `RequestDraft.taken_elsewhere` kept out of the top-up only those
   stood down there: a named member never offered that request was free to the search, so
   a critical fall's replacement offer went to someone already on their way elsewhere.
2. After `presence.HOLD_CAP`, once another decision had dropped the lapsed hold from the
   helper's record, every later decision of the held request compared the stored "none"
   with the lapsed hold it still wanted and stored the helper unchanged: a helper write on
   the hot path for nothing (`presence.with_hold`).
"""

from __future__ import annotations

from datetime import timedelta

from dispatcher.core.presence import HOLD_CAP, with_hold
from dispatcher.core.trusted import updated
from schemas.commands import CompleteAssignment
from schemas.records import OfferStatus, PresenceHold
from schemas.vocab import Category, Skill, Urgency
from tests.support.team_accept import accept_for_team
from tests.unit.conftest import World
from tests.unit.test_core_party_teams import person
from tests.unit.test_hoarding_s40 import _fall

_TEAM = {"teams": ("帮帮团",), "leads_teams": ("帮帮团",)}


def _leader_offered_a_fall_then_a_member_joins(world: World) -> None:
    """The leader is offered the fall req-1; m-near joins after its first wave (no offer of
    it), and both are offered req-9, a carrying job for two."""
    person(world, "leader", **_TEAM, skills=[Skill.CARRYING, Skill.FIRST_AID])
    _fall(world, "req-1")
    person(world, "m-near", teams=("帮帮团",), skills=[Skill.CARRYING, Skill.FIRST_AID])
    assert {o.helper_id for o in world.request("req-1").offers} == {"leader"}
    world.submit("req-9", category=Category.CARRYING, skills=(Skill.CARRYING,), helpers_needed=2)
    assert {o.helper_id for o in world.request("req-9").offers} == {"leader", "m-near"}


def _leader_accepts_req_9_naming_m_near(world: World) -> list[tuple[str | None, str]]:
    """The accept; returns (request, helper) of each offer sent in that decision."""
    out = accept_for_team(world, "req-9", "leader", "m-near")
    assert any(
        e.request_id == "req-1"
        and e.body.type == "offers_stood_down"
        and e.body.reason == "helping_elsewhere"
        for e in out.events
    )
    assert {h.request_id for h in world.state.helpers["m-near"].presence} == {"req-9"}
    return [(e.request_id, e.body.helper_id) for e in world.offer_events(out)]


def test_a_member_named_at_the_accept_is_not_offered_the_leaders_other_fall_at_once(world):
    _leader_offered_a_fall_then_a_member_joins(world)
    # Old code: [("req-1", "m-near")], the top-up of the fall asked the member just signed
    # up in person for req-9 (their hold not in the index yet).
    assert _leader_accepts_req_9_naming_m_near(world) == []
    assert {o.helper_id: o.status for o in world.request("req-1").offers} == {
        "leader": OfferStatus.STOOD_DOWN
    }


def test_the_fall_is_topped_up_with_someone_free_instead(world):
    _leader_offered_a_fall_then_a_member_joins(world)
    world.helper("z-free", skills=[Skill.FIRST_AID])  # after req-1's wave: asked nothing
    assert _leader_accepts_req_9_naming_m_near(world) == [("req-1", "z-free")]


# --- 2. a lapsed hold is nothing to store -------------------------------------------------


def test_with_hold_stores_nothing_for_a_lapsed_hold_the_helper_no_longer_has(world):
    world.helper("a")
    helper = world.state.helpers["a"]
    assert helper.presence == ()
    lapsed = (world.now - timedelta(minutes=1), 0)
    # Old code: a helper "updated" to the same empty presence.
    assert with_hold(helper, "req-1", lapsed, world.now) is None
    assert with_hold(helper, "req-1", (world.now, 0), world.now) is None  # ends now: lapsed


def test_with_hold_drops_a_stored_lapsed_hold_once(world):
    world.helper("a")
    until = world.now - timedelta(minutes=1)
    hold = PresenceHold(request_id="req-1", until=until, rank=0)
    helper = updated(world.state.helpers["a"], presence=(hold,))
    dropped = with_hold(helper, "req-1", (until, 0), world.now)
    assert dropped is not None and dropped.presence == ()
    assert with_hold(dropped, "req-1", (until, 0), world.now) is None
    live = (world.now + timedelta(hours=1), 0)
    kept = with_hold(dropped, "req-1", live, world.now)
    assert kept is not None
    assert kept.presence == (PresenceHold(request_id="req-1", until=live[0], rank=0),)
    assert with_hold(kept, "req-1", live, world.now) is None


def test_decisions_of_a_request_held_past_the_cap_write_no_helper(world):
    world.helper("a")
    world.helper("b")
    chore = {"category": Category.ERRAND, "urgency": Urgency.LOW, "skills": ()}
    world.submit("req-1", helpers_needed=2, text="帮我搬沙发", **chore)
    world.accept("a", "req-1")
    assert [h.request_id for h in world.state.helpers["a"].presence] == ["req-1"]
    world.later((HOLD_CAP + timedelta(hours=1)).total_seconds())
    # a takes and finishes another chore: that decision drops the lapsed req-1 hold.
    world.submit("req-2", helpers_needed=1, text="帮我取快递", **chore)
    world.accept("a", "req-2")
    world.run(CompleteAssignment(request_id="req-2", helper_id="a", minutes=None))
    assert world.state.helpers["a"].presence == ()
    world.later(60)
    # Old code: "a" stored again at each of these, unchanged.
    assert "a" not in world.decline("b", "req-1").helpers
    world.later(60)
    assert "a" not in world.tick("req-1").helpers
    assert world.state.helpers["a"].presence == ()

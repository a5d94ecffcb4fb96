"""In-person holds within one decision (session 40, review 2).

1. A team's leader who accepts in person naming a member stands down the leader's other
   in-person offers and tops those requests up in the same decision
   (request_commands._stand_down_elsewhere). The index learns of the new holds only once the
   decision is applied, and `RequestDraft.taken_elsewhere` kept out of the top-up only those
   stood down there: a named member never offered that request was free to the search, so
   a critical fall's replacement offer went to someone already on their way elsewhere.
"""

from __future__ import annotations

from schemas.records import OfferStatus
from schemas.vocab import Category, Skill
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

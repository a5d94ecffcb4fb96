"""Review 31 (regteams) on a team leader's accept, in the pure core: a count without names
holds no more slots than the team has, and a leader cannot sign up a member who declined
this very request or is away or busy (each would get the requester's contact)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.commands import AcceptOffer, SetHelperStatus
from schemas.records import RequestStatus
from schemas.vocab import Category, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_core_party_teams import person


def _team(world: World) -> None:
    person(world, "leader", teams=("帮帮团",), leads_teams=("帮帮团",), skills=[Skill.CARRYING])
    person(world, "m-near", teams=("帮帮团",), skills=[Skill.CARRYING])  # gets an offer too
    person(world, "m-far", building="7", compound="far", grid="g9", teams=("帮帮团",))


def _carry(world: World, slots: int) -> None:
    world.submit(
        category=Category.CARRYING,
        urgency=Urgency.NORMAL,
        skills=(Skill.CARRYING,),
        helpers_needed=slots,
    )


def _accept(world: World, members: int, *names: str) -> Any:
    """A count (`members`) without names, or the named members (the leader's form)."""
    return world.run(
        AcceptOffer(
            request_id="req-1",
            offer_id=world.offer_id("leader"),
            helper_id="leader",
            members=1 + len(names) if names else members,
            member_ids=names,
        )
    )


def _refused(world: World, decision: Any) -> list[tuple[str, str]]:
    return [(e.reason, e.detail) for e in world.of_type("command_rejected", decision)]


def test_a_count_without_names_holds_no_more_slots_than_the_team_has(world: World) -> None:
    _team(world)  # three: the leader, m-near and m-far
    for k in range(6):
        world.helper(f"carrier-{k}", skills=[Skill.CARRYING])
    _carry(world, 6)
    d = _accept(world, 6)
    [leader] = world.request().assignments
    assert (leader.helper_id, leader.slot, leader.team_slots) == ("leader", 0, (1, 2))
    assert world.of_type("helper_assigned", d)[0].members == 3
    assert world.request().status is RequestStatus.OPEN  # three slots left for others


def test_a_member_who_declined_this_request_is_refused_and_nobody_assigned(
    world: World,
) -> None:
    _team(world)
    _carry(world, 3)
    assert "m-near" in world.offered()
    world.decline("m-near")
    d = _accept(world, 0, "m-far", "m-near")
    assert _refused(world, d) == [("member_declined", "m-near")]
    assert world.of_type("helper_assigned", d) == [] and world.request().assignments == ()


@pytest.mark.parametrize("status", [{"away": True}, {"busy": True}])
def test_a_member_away_or_busy_is_refused_and_nobody_assigned(
    world: World, status: dict[str, bool]
) -> None:
    _team(world)
    world.run(SetHelperStatus(helper_id="m-far", **status))
    _carry(world, 3)
    d = _accept(world, 0, "m-far")
    assert _refused(world, d) == [("member_unavailable", "m-far")]
    assert world.of_type("helper_assigned", d) == [] and world.request().assignments == ()
    world.run(SetHelperStatus(helper_id="m-far"))  # back: the leader may name them again
    _accept(world, 0, "m-far")
    assert [a.helper_id for a in world.request().assignments] == ["leader", "m-far"]

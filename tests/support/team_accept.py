"""A team's leader accepting a unit-test World's offer in person for their team, naming the
members who come (the accept that gives each of them an in-person hold)."""

from __future__ import annotations

from dispatcher.core.state import Decision
from schemas.commands import AcceptOffer
from tests.unit.conftest import World


def accept_for_team(world: World, request_id: str, leader: str, *members: str) -> Decision:
    """`leader` takes `request_id`'s offer for themselves and `members` (one slot each)."""
    return world.run(
        AcceptOffer(
            request_id=request_id,
            offer_id=world.offer_id(leader, request_id),
            helper_id=leader,
            members=1 + len(members),
            member_ids=members,
        )
    )

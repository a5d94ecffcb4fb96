"""Helper ids are not per community: an UpsertHelper issued in community A that names a
helper community B holds (same partition, so the same core state) is refused, and B's
helper keeps their community, their channels and their `active`."""

from __future__ import annotations

from schemas.commands import Command, UpsertHelper
from schemas.events import CommandRejected
from schemas.places import PlacePath
from tests.unit.conftest import COMMUNITY, World

A = "cfg-a"


def test_a_cannot_take_over_or_retire_bs_helper(world: World) -> None:
    world.helper("b-helper")  # B: the world's community
    before = world.state.helpers["b-helper"]
    taken = before.profile.model_copy(
        update={
            "place": PlacePath(community_id=A, building_id="b9"),
            "active": False,
            "channels": ("webhook:a-relay",),
        }
    )
    hijack = Command(
        command_id="from-a", community_id=A, issued_at=world.now, body=UpsertHelper(profile=taken)
    )
    decision = world.run(hijack)
    [event] = decision.events
    assert isinstance(event.body, CommandRejected)
    assert (event.body.reason, event.body.helper_id) == ("wrong_community", "b-helper")
    assert event.community_id == A  # told to whoever sent it, not to B
    assert world.state.helpers["b-helper"] == before


def test_bs_own_staff_still_update_bs_helper(world: World) -> None:
    profile = world.helper("b-helper")
    retired = profile.model_copy(update={"active": False})
    [event] = world.run(UpsertHelper(profile=retired)).events
    assert event.body.type == "helper_updated"
    helper = world.state.helpers["b-helper"]
    assert helper.community_id == COMMUNITY and not helper.profile.active

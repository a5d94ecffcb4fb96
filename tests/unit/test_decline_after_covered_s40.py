"""来不了 pressed on an offer already stood down as covered (已有邻居接手) is a no (audit, s40).

The core refused it (`offer_not_open`) and the helper stayed "stood down as covered", whom a
reopened slot asks again first (`RequestDraft.not_to_ask`, 2713983): the neighbour who had
just said they cannot come was asked again. Now such a decline, by a helper not assigned on
a live request, is recorded as declined (`OfferDeclined`, the link page says 已记下): not
asked again, and it costs them nothing (no load) nor asks anyone (no slot waited on them).
"""

from __future__ import annotations

from schemas.commands import CancelRequest, WithdrawHelper
from schemas.records import OfferStatus
from schemas.vocab import Party, Skill
from tests.unit.conftest import World


def _covered(world: World) -> None:
    """a took the slot; b's offer was stood down as covered; c is one more neighbour."""
    for hid in ("a", "b", "c"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    assert sorted(world.offered()) == ["a", "b", "c"]
    world.accept("a")
    assert _status(world, "b") is OfferStatus.STOOD_DOWN


def _status(world: World, helper_id: str) -> OfferStatus:
    return next(o.status for o in world.request().offers if o.helper_id == helper_id)


def test_a_no_after_the_stand_down_is_recorded_and_not_asked_again(world):
    _covered(world)
    load = world.state.helpers["b"].load
    out = world.decline("b")
    assert world.of_type("command_rejected", out) == []
    assert [x.helper_id for x in world.of_type("offer_declined", out)] == ["b"]
    assert world.offered(out) == []  # no slot waited on b: nobody asked for it
    assert _status(world, "b") is OfferStatus.DECLINED
    assert world.state.helpers["b"].load == load  # no decline counted
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    # The slot reopens: c (stood down, never said no) is asked again, b is not.
    assert world.offered(again) == ["c"]


def test_on_a_closed_request_it_is_still_not_open(world):
    _covered(world)
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    out = world.decline("b")
    assert [x.reason for x in world.of_type("command_rejected", out)] == ["offer_not_open"]
    assert _status(world, "b") is OfferStatus.STOOD_DOWN

"""A helper stood down `helping_elsewhere` at their accept is not asked again by the same
decision's replacement search (session 40).

Accepting an in-person need stands the helper's other in-person offers down and tops those
requests up at once (request_commands._stand_down_elsewhere). On a request whose slot had
reopened (someone withdrew), the ladder asks again the helpers whose offer is stood down
(`RequestDraft.stood_down_covered`, 2713983): the helper just stood down was among them, and
the index does not know of their new hold until the decision is applied. So the top-up sent
them the offer again, under the same id, in the same decision: a push inviting them to a
request they cannot take (their press is refused `helping_elsewhere`), while the requester
waited for it. Found in the simulated days of tests/integration/test_record_set_based.py
(seed 11: offers_stood_down helping_elsewhere, then offers_sent to the same helper, one
command).
"""

from __future__ import annotations

from schemas.commands import WithdrawHelper
from schemas.events import Event
from schemas.records import OfferStatus
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_hoarding_s40 import _fall


def _statuses(world: World, request_id: str) -> dict[str, OfferStatus]:
    return {o.helper_id: o.status for o in world.request(request_id).offers}


def _reopened_and_a_asked_again(world: World) -> None:
    """a and b offered both falls; b takes req-2 (a stood down as covered there), then
    withdraws: the reopened slot asks a again, under the same id."""
    world.helper("a", skills=[Skill.FIRST_AID])
    world.helper("b", skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    _fall(world, "req-2")
    world.accept("b", "req-2")
    assert _statuses(world, "req-2")["a"] is OfferStatus.STOOD_DOWN
    world.later(60)
    back = world.run(WithdrawHelper(request_id="req-2", helper_id="b"))
    assert world.offered(back) == ["a"]
    assert _statuses(world, "req-2")["a"] is OfferStatus.OPEN
    world.later(10)


def _asked_on_req_2(events: list[Event]) -> list[str]:
    return [
        o.helper_id
        for e in events
        if e.request_id == "req-2" and e.body.type == "offers_sent"
        for o in e.body.offers
    ] + [
        e.body.helper_id for e in events if e.request_id == "req-2" and e.body.type == "offer_sent"
    ]


def test_the_helper_stood_down_at_their_accept_is_not_asked_again_there(world):
    _reopened_and_a_asked_again(world)
    out = world.accept("a", "req-1")
    on_req_2 = [e.body for e in out.events if e.request_id == "req-2"]
    assert [
        (b.reason, [o.helper_id for o in b.offers])
        for b in on_req_2
        if b.type == "offers_stood_down"
    ] == [("helping_elsewhere", ["a"])]
    # Old code: ["a"], the helper now on their way to req-1 (nobody else on the roster).
    assert _asked_on_req_2(list(out.events)) == []
    assert _statuses(world, "req-2")["a"] is OfferStatus.STOOD_DOWN


def test_someone_free_is_asked_in_their_place(world):
    _reopened_and_a_asked_again(world)
    world.helper("c", skills=[Skill.FIRST_AID])  # came on the roster since: asked nothing
    out = world.accept("a", "req-1")
    assert _asked_on_req_2(list(out.events)) == ["c"]
    assert _statuses(world, "req-2") == {
        "a": OfferStatus.STOOD_DOWN,
        "b": OfferStatus.ACCEPTED,  # then withdrew: an assignment, not asked again
        "c": OfferStatus.OPEN,
    }

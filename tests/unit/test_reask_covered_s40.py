"""A reopened slot first asks again the helpers stood down because it was covered (session 40).

`RequestDraft.offered_helpers()` excluded everyone ever offered: when the helper who took
the slot withdrew (去不了了) or staff marked them a no-show, the nearest neighbours - stood
down only because somebody else had taken it ("已有邻居接手"), never having said no - were
not asked again; the ring looked empty and the ladder climbed at once to farther helpers.
Now, on a reopened slot, those stood down as covered are eligible again, in the index's
rank order, before the ladder widens. Not those who declined, nor those whose offer went
unanswered or undelivered (they had their offer's whole time), nor the one who withdrew.
A helper asked again keeps one offer record, under the same offer id (the link they hold).
"""

from __future__ import annotations

from schemas.commands import ReportDeliveryFailure, WithdrawHelper
from schemas.records import OfferStatus, RequestStatus
from schemas.vocab import Skill
from tests.unit.conftest import World


def _building_of_four_and_one_far(world: World) -> None:
    """a, b, c, d in the requester's building (the first ring, all asked at once); far
    in another grid, asked only once the ladder widens."""
    for hid in ("a", "b", "c", "d"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.helper("far", building="9", compound="other", grid="g2", skills=[Skill.DRIVING])
    world.submit()
    assert sorted(world.offered()) == ["a", "b", "c", "d"]


def _statuses(world: World) -> dict[str, OfferStatus]:
    return {o.helper_id: o.status for o in world.request().offers}


def test_a_withdrawal_asks_again_the_one_stood_down_as_covered_not_the_next_ring(world):
    _building_of_four_and_one_far(world)
    world.decline("c")
    world.run(
        ReportDeliveryFailure(
            request_id="req-1", offer_id=world.offer_id("d"), helper_id="d", reason="gone"
        )
    )
    world.accept("a")
    assert _statuses(world)["b"] is OfferStatus.STOOD_DOWN
    step = world.request().step
    world.later(60)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    # b never said no: asked again, in the same ring. Not c (declined), d (undelivered),
    # a (withdrew); and no climb to far (old code: ["far"], the ring read as empty).
    assert world.offered(out) == ["b"]
    assert not world.of_type("ring_escalated", out)
    assert world.request().step == step
    assert _statuses(world) == {
        "a": OfferStatus.ACCEPTED,
        "b": OfferStatus.OPEN,
        "c": OfferStatus.DECLINED,
        "d": OfferStatus.FAILED,
    }


def test_the_one_asked_again_keeps_one_offer_under_the_same_id_and_can_accept(world):
    _building_of_four_and_one_far(world)
    first_id = world.offer_id("b")
    world.accept("a")
    world.later(60)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    r = world.request()
    mine = [o for o in r.offers if o.helper_id == "b"]
    assert [(o.offer_id, o.status, o.sent_at) for o in mine] == [
        (first_id, OfferStatus.OPEN, world.now)
    ]
    # Its push carries the same offer id: the link b already holds is the one to press.
    assert [o.offer_id for o in world.of_type("offer_sent", out) if o.helper_id == "b"] == [
        first_id
    ]
    assert len({o.offer_id for o in r.offers}) == len(r.offers)
    assert r.next_deadline is not None and r.next_deadline > world.now
    taken = world.accept("b")
    assert [x.helper_id for x in world.of_type("helper_assigned", taken)] == ["b"]
    assert world.request().status is RequestStatus.FILLED


def test_a_no_show_reopens_the_slot_for_the_covered_too(world):
    _building_of_four_and_one_far(world)
    world.accept("a")
    world.later(600)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="a", no_show=True))
    assert sorted(world.offered(out)) == ["b", "c", "d"]
    assert "far" not in world.offered(out)


def test_asked_again_and_declined_is_not_asked_a_third_time(world):
    _building_of_four_and_one_far(world)
    world.accept("a")
    world.later(60)
    world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    for hid in ("b", "c"):
        world.decline(hid)
    taken = world.accept("d")
    assert [x.helper_id for x in world.of_type("helper_assigned", taken)] == ["d"]
    world.later(60)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="d"))
    # Nobody of the building is left who has not said no or withdrawn: the ladder widens.
    assert world.offered(out) == ["far"]
    assert world.of_type("ring_escalated", out)


def test_an_offer_that_went_unanswered_is_not_asked_again(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    assert world.offered() == ["a"]
    world.helper("b", skills=[Skill.DRIVING])  # joins after the first wave
    world.later(world.request().plan.offer_ttl_s)
    world.tick()  # a's offer expires unanswered; the ladder goes on (b is asked)
    assert _statuses(world)["a"] is OfferStatus.EXPIRED
    assert "b" in world.offered()
    world.accept("b")
    world.later(60)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id="b"))
    assert "a" not in world.offered(out)


def test_replays_decide_the_same():
    def run() -> tuple[list[tuple[str, str]], list[str]]:
        w = World()
        _building_of_four_and_one_far(w)
        w.accept("a")
        w.later(60)
        w.run(WithdrawHelper(request_id="req-1", helper_id="a"))
        w.accept("b")
        w.later(60)
        out = w.run(WithdrawHelper(request_id="req-1", helper_id="b"))
        return [(e.event_id, e.body.model_dump_json()) for e in w.events], w.offered(out)

    (first, again), (second, _) = run(), run()
    assert first == second
    # c and d, stood down as covered twice now, asked again; a and b, who withdrew, not.
    assert sorted(again) == ["c", "d"]

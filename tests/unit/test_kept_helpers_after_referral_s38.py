"""Session 38: the helpers a staff referral to 120/110/119 keeps assigned (f06977a) are
told so, and what they press afterwards counts.

Before: the core kept them (`RequestReferred.kept_helper_ids`) but no push reached them (the
planner made none for `RequestReferred`), and "done" was refused after any referral
(`assignment_commands.complete` read `d.status in RELEASES_ASSIGNED`), so a neighbour who
stayed with someone who had fallen until the ambulance came lost their minutes; "on my
way" was refused on any closed request, though the notice asks them to go on.
A referral to property or a department still stands them down: "done" refused as before.

The planner runs as the notify agent runs it: on the state right after the decision
(README "Reliability": the decision is applied before its events are pushed)."""

from __future__ import annotations

import pytest

from dispatcher.push import EndpointKind, PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.model import Delivery
from schemas.commands import CompleteAssignment, MarkOnMyWay, ReferRequest
from schemas.events import Event
from schemas.records import RequestStatus
from schemas.vocab import Category, ReferralTarget, Skill
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import planner, registry, with_channels

REG = registry(("default", EndpointKind.WEBHOOK))


def pushes(plan: DeliveryPlanner, events: tuple[Event, ...] | list[Event]) -> list[Delivery]:
    return [d for e in events for d in plan.plan(e).deliveries]


@pytest.fixture
def on_the_way(world: World) -> World:
    """A fall, three needed: a accepted and is on the way, b accepted (not yet set off),
    c and d hold open offers."""
    for h in ("a", "b", "c", "d"):
        with_channels(world, h)
    world.submit(category=Category.FALL, helpers_needed=3, skills=(Skill.DRIVING,))
    world.accept("a")
    world.accept("b")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="a"))
    world.later(300)
    assert {"c", "d"} <= set(world.offered())
    return world


def _refer(world: World, to: ReferralTarget) -> list[Delivery]:
    decision = world.run(ReferRequest(request_id="req-1", to=to))
    assert world.request().status is RequestStatus.REFERRED
    return pushes(planner(world, REG), decision.events)


# --- the core: "done" and "on my way" after the referral --------------------------------


@pytest.mark.parametrize(
    "to", [ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE]
)
def test_done_after_an_emergency_referral_counts_the_minutes(on_the_way: World, to) -> None:
    on_the_way.run(ReferRequest(request_id="req-1", to=to))
    on_the_way.later(40 * 60)  # stayed with them until the ambulance came
    out = on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=45))
    assert on_the_way.of_type("command_rejected", out) == []
    [done] = on_the_way.of_type("assignment_completed", out)
    assert (done.helper_id, done.minutes, done.minutes_given) == ("a", 45, True)
    assert on_the_way.state.helpers["a"].load.service_seconds_total == 45 * 60
    # Not typed: accepting to the referral (the closing), as after any closing.
    out = on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="b"))
    [done_b] = on_the_way.of_type("assignment_completed", out)
    assert done_b.minutes == 5 and not done_b.minutes_given


def test_on_my_way_after_an_emergency_referral_is_recorded(on_the_way: World) -> None:
    """The notice asks b to go on if they can: their 我在路上 is not refused as closed."""
    on_the_way.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    out = on_the_way.run(MarkOnMyWay(request_id="req-1", helper_id="b"))
    assert on_the_way.of_type("command_rejected", out) == []
    [off] = on_the_way.of_type("helper_set_off", out)
    assert off.helper_id == "b"
    [b] = [a for a in on_the_way.request().assignments if a.helper_id == "b"]
    assert b.on_way_at == on_the_way.now


@pytest.mark.parametrize("to", [ReferralTarget.PROPERTY, ReferralTarget.DEPARTMENT])
def test_done_after_a_referral_that_stood_them_down_is_refused(on_the_way: World, to) -> None:
    dept = "街道" if to is ReferralTarget.DEPARTMENT else ""
    on_the_way.run(ReferRequest(request_id="req-1", to=to, department=dept))
    on_the_way.later(600)
    out = on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=30))
    assert on_the_way.of_type("assignment_completed", out) == []
    [no] = on_the_way.of_type("command_rejected", out)
    assert (no.reason, no.helper_id, no.detail) == ("request_closed", "a", "referred")
    assert on_the_way.state.helpers["a"].load.service_seconds_total == 0
    way = on_the_way.run(MarkOnMyWay(request_id="req-1", helper_id="b"))
    assert [r.reason for r in on_the_way.of_type("command_rejected", way)] == ["request_closed"]


# --- the planner: the notice to the helpers kept ---------------------------------------


@pytest.mark.parametrize(
    ("to", "said"),
    [
        (ReferralTarget.AMBULANCE, "120急救"),
        (ReferralTarget.POLICE, "110"),
        (ReferralTarget.FIRE, "119"),
    ],
)
def test_each_helper_kept_is_told_to_go_on(on_the_way: World, to, said) -> None:
    told = _refer(on_the_way, to)
    kept = [d for d in told if d.recipient in ("a", "b")]
    assert sorted(d.recipient for d in kept) == ["a", "b"]
    for d in kept:
        # Not a stand-down nor a cancellation ("无需前往"): a notice that keeps them coming,
        # of the kind sent after the request closed (a live-only one would be withdrawn).
        assert d.kind is PushKind.CANCELLATION
        assert d.message.title == f"求助已转交{said}"
        assert d.message.text.startswith(f"求助已转交{said}：")
        assert "摔倒" in d.message.text or "跌倒" in d.message.text, d.message.text
        assert "专业人员赶到前，如您能前往，请继续前往协助" in d.message.text
        assert "已完成" in d.message.text
        assert "无需" not in d.message.text and "取消" not in d.message.text
        assert d.data == {"request_id": "req-1", "offer_id": on_the_way.offer_id(d.recipient)}
    # The open offers are stood down as before ("已转交专业救援处理"), each once.
    others = [d for d in told if d.recipient not in ("a", "b")]
    assert sorted(d.recipient for d in others) == ["c", "d"]
    assert all(d.kind is not PushKind.ASSIGNMENT for d in others)
    assert len({d.delivery_id for d in told}) == len(told)


def test_a_helper_done_already_is_not_told_and_ids_are_stable(on_the_way: World) -> None:
    """a pressed "done" before the referral: not kept, not told. The core names b only;
    planned again (a replay), the same delivery id."""
    on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=10))
    decision = on_the_way.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    plan = planner(on_the_way, REG)
    [event] = [e for e in decision.events if e.body.type == "request_referred"]
    kept = [d for d in pushes(plan, decision.events) if d.message.title.startswith("求助已转交")]
    assert [d.recipient for d in kept] == ["b"]
    again = [d for d in pushes(plan, decision.events) if d.recipient == "b"]
    assert [d.delivery_id for d in again] == [kept[0].delivery_id]
    assert kept[0].delivery_id == f"{event.event_id}:0"


def test_a_helper_done_since_the_referral_is_not_told(on_the_way: World) -> None:
    """The state the planner reads may be later than the decision (a "done" since): a kept
    helper who is done by then hears nothing more."""
    decision = on_the_way.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=20))
    told = pushes(planner(on_the_way, REG), decision.events)
    assert [d.recipient for d in told if d.message.title.startswith("求助已转交")] == ["b"]


def test_a_referral_to_property_tells_nobody_to_go_on(on_the_way: World) -> None:
    told = _refer(on_the_way, ReferralTarget.PROPERTY)
    assert not any(d.message.title.startswith("求助已转交") for d in told)
    # The helpers on the way are stood down ("无需前往") as before.
    assert {"a", "b"} <= {d.recipient for d in told}
    assert all("无需" in d.message.text for d in told)

"""What a helper is told when a request closes under them (push/deliveries.py), planned as
the notify agent plans it: from the state right after the decision (README "Reliability":
the decision is applied before its events are pushed), on events the real core produced.

Before session 38 every cancellation said "（求助人已取消）", staff's too, and a resolve told
no helper still on the way (the core stands down open offers only: the assignments stand,
so a "done" still counts)."""

from __future__ import annotations

import pytest

from dispatcher.push import EndpointKind, PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.model import Delivery
from schemas.commands import (
    CancelRequest,
    CompleteAssignment,
    MarkOnMyWay,
    ResolveRequest,
)
from schemas.events import Event
from schemas.vocab import Party
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import planner, registry, with_channels

REG = registry(("default", EndpointKind.WEBHOOK))


def pushes(plan: DeliveryPlanner, events: list[Event]) -> list[Delivery]:
    return [d for e in events for d in plan.plan(e).deliveries]


def closing(world: World, body: object) -> list[Delivery]:
    """The pushes of the decision that closes the request, planned on the state after it."""
    decision = world.run(body)  # type: ignore[arg-type]
    return pushes(planner(world, REG), decision.events)


@pytest.fixture
def on_the_way(world: World) -> World:
    """Two needed: a accepted and is on the way; the others hold open offers."""
    for h in ("a", "b", "c", "d"):
        with_channels(world, h)
    world.submit(helpers_needed=2)
    world.accept("a")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="a"))
    return world


def test_a_staff_cancel_says_the_community_cancelled(on_the_way: World) -> None:
    told = closing(on_the_way, CancelRequest(request_id="req-1", by=Party.STAFF))
    assert "a" in {d.recipient for d in told} and len(told) >= 2  # on the way, open offers
    for d in told:
        assert d.kind is PushKind.CANCELLATION
        assert "社区已取消" in d.message.text and "求助人已取消" not in d.message.text, d


def test_a_requester_cancel_still_says_the_requester_cancelled(on_the_way: World) -> None:
    told = closing(on_the_way, CancelRequest(request_id="req-1", by=Party.REQUESTER))
    assert told and all("（求助人已取消）" in d.message.text for d in told)


def test_a_cancel_planned_without_the_request_names_nobody(on_the_way: World) -> None:
    """Planned again after the request left the state (pruned): no reason rather than a
    wrong one."""
    decision = on_the_way.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    plan = planner(on_the_way, REG)
    plan.request = lambda rid: None
    told = pushes(plan, decision.events)
    assert told and all("求助已取消：" in d.message.text for d in told)
    assert not any("求助人" in d.message.text or "（" in d.message.text for d in told)


def test_a_staff_resolve_tells_the_helper_on_the_way_without_releasing_them(
    on_the_way: World,
) -> None:
    told = closing(on_the_way, ResolveRequest(request_id="req-1", by=Party.STAFF))
    [to_a] = [d for d in told if d.recipient == "a"]
    assert to_a.kind is PushKind.CANCELLATION and to_a.message.title == "求助已解决"
    assert "社区已确认" in to_a.message.text and "已完成" in to_a.message.text
    assert to_a.data["offer_id"] == on_the_way.offer_id("a")
    # Still assigned: a "done" pressed now counts their time.
    on_the_way.later(600)
    done = on_the_way.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=30))
    assert on_the_way.of_type("assignment_completed", done)
    # The open offers are told as before (问题已解决), each once.
    others = [d for d in told if d.recipient != "a"]
    assert others and all("问题已解决" in d.message.text for d in others)
    assert len({d.delivery_id for d in told}) == len(told)


def test_a_helper_done_already_is_not_told_and_ids_are_stable(world: World) -> None:
    for h in ("a", "b"):
        with_channels(world, h)
    world.submit(helpers_needed=2)
    world.accept("a")
    world.accept("b")
    world.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=20))
    decision = world.run(ResolveRequest(request_id="req-1", by=Party.REQUESTER))
    plan = planner(world, REG)
    told = pushes(plan, decision.events)
    assert [d.recipient for d in told] == ["b"]
    assert "求助人已确认" in told[0].message.text
    assert [d.delivery_id for d in pushes(plan, decision.events)] == [told[0].delivery_id]


def test_a_helper_resolving_tells_the_other_helper_on_the_way(world: World) -> None:
    """The audit's core case (a helper's resolve), told by the planner."""
    with_channels(world, "a")
    with_channels(world, "b")
    world.submit(helpers_needed=2)
    world.accept("a")
    world.accept("b")
    told = closing(world, ResolveRequest(request_id="req-1", by=Party.HELPER, helper_id="a"))
    assert "b" in {d.recipient for d in told}


def test_the_end_of_the_lifetime_says_ended_not_solved(on_the_way: World) -> None:
    r = on_the_way.request()
    on_the_way.now = r.ends_at
    told: list[Delivery] = []
    while not on_the_way.request().terminal:
        decision = on_the_way.tick()
        told += pushes(planner(on_the_way, REG), decision.events)
    assert on_the_way.request().status.value == "resolved"  # closed by the system
    [to_a] = [d for d in told if d.recipient == "a" and d.kind is PushKind.CANCELLATION]
    assert to_a.message.title == "求助已结束" and "已到求助时限" in to_a.message.text

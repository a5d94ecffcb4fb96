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
    MarkOnMyWay,
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

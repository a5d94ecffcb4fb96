"""An offer planned for a helper's private channel carries that helper's own accept/decline
links (`/l/o/~TOKEN`), bound to the first browser that opens them: whoever opens one first
can accept as that helper and then sees the requester's phone and address. Such an offer
waiting for a retry while its lane is re-pointed (live configuration) at a group robot was
posted into the group, since only the PRIVATE_KINDS were refused there (session 37 audit).
It is refused now, as an assignment is, and its failure reported back so the ladder moves
on; an offer in the group's form (the answer page) still goes to a group."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.push import Deliverer, EndpointRegistry, PushKind, SubmitOutcome
from schemas.commands import ReportDeliveryFailure
from streams.notify import Notifier
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import planner, with_channels
from tests.unit.test_push_lane_budgets import Clock, Recorder, delivery, relay, until, wecom
from tests.unit.test_worker_notify import FakeClock, FaustEvent, offer_to

REFUSED = "offer holds the helper's own links (private): not for a group robot"


def notifier(world: World, registry: EndpointRegistry, rec: Recorder, clock: Clock) -> Any:
    """A Notifier planning with the real planner and pushing through a real Deliverer to
    `rec`; the commands it sends (its delivery-failure reports) into `sent`."""
    sent: list[Any] = []

    async def send_command(command: Any) -> None:
        sent.append(command)

    n = Notifier(planner(world, registry), send_command, FakeClock())
    n._deliverer = Deliverer(
        registry,
        client=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
        on_delivered=n._delivered,
        on_permanent_failure=n._failed,
        clock=clock,
        rand=lambda: 0.1,
    )
    return n, sent


def relay_down(request: httpx.Request, n: int) -> httpx.Response:
    if request.url.host == "relay.test":
        return httpx.Response(503)  # the relay is briefly down: the offer waits to retry
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


async def test_a_waiting_private_offer_is_not_posted_to_a_group_it_is_reported_failed() -> None:
    world = World()
    with_channels(world, "private-driver")  # no channels: the default endpoint
    world.submit()
    event = offer_to(world, "private-driver")
    registry = EndpointRegistry([relay("default")])
    rec, clock = Recorder(relay_down), Clock()
    n, sent = notifier(world, registry, rec, clock)
    d = n._deliverer
    try:
        await n.handle(FaustEvent(), event, 3)
        await until(lambda: d.stats()[0].waiting_retry == 1 or bool(sent))
        [first] = [r for r in rec.requests if r.url.host == "relay.test"]
        assert b"/l/o/" in first.content  # planned private: the helper's own links
        registry.replace([wecom("default")])  # "default" is now the community's group
        clock.now += 60  # the offer's retry is due
        # The next delivery on the lane makes it take the change.
        await d.submit(delivery("wake", "default", PushKind.STAND_DOWN, "已有邻居接手，谢谢"))
        assert await d.drain(5)
    finally:
        await d.aclose()
    group_posts = [r.content.decode() for r in rec.requests if r.url.host == "wecom.test"]
    assert group_posts and not any("/l/o/" in p for p in group_posts), group_posts
    # Reported back as any failed delivery is: the core marks the offer failed and moves on.
    failures = [c.body for c in sent if isinstance(c.body, ReportDeliveryFailure)]
    assert [(f.offer_id, f.helper_id, f.reason) for f in failures] == [
        (event.body.offer_id, "private-driver", REFUSED)
    ]


async def test_a_private_offer_submitted_for_a_group_is_rejected_the_group_form_goes() -> None:
    world = World()
    with_channels(world, "private-driver")  # planned for the private default webhook
    with_channels(world, "group-driver", "wecom:grid-3")  # planned for the group robot
    world.submit(helpers_needed=2)
    private_plan = planner(world, EndpointRegistry([relay("default"), wecom("grid-3")]))
    [own] = private_plan.plan(offer_to(world, "private-driver")).deliveries
    [group] = private_plan.plan(offer_to(world, "group-driver")).deliveries
    assert "accept_url" in own.data and "accept_url" not in group.data
    registry = EndpointRegistry([wecom("default"), wecom("grid-3")])  # default: a group now
    rec = Recorder(relay_down)
    d = Deliverer(  # the real clock: the group offer waits out its batch window
        registry,
        client=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
        on_delivered=rec.on_delivered,
        on_permanent_failure=rec.on_failed,
    )
    try:
        assert await d.submit(own) is SubmitOutcome.REJECTED
        assert await d.submit(group) is SubmitOutcome.ACCEPTED
        assert await d.drain(5)
    finally:
        await d.aclose()
    assert rec.failed == {own.delivery_id: REFUSED}
    assert rec.delivered == [group.delivery_id]
    assert not any(b"/l/o/" in r.content for r in rec.requests)

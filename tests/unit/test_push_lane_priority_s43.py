"""A lane's queue by priority, first-in first-out within one (session 43 audit A3): in a
mass incident a group robot (15/min, burst 5) had 30 ordinary messages queued ahead of a
life-threatening request's "请立即拨打120", which went out ~104 s later, and later offers
could expire unsent. What concerns a life-threatening request, a whistle or referral goes
first; then offers and stand-downs; then the rest. A later delivery about the same
recipient and request never overtakes an earlier one (a stand-down its own offer).

The lane's one slot is held by a first send while the rest queue, so what is checked is
the order the lane picks them in, whatever the timing."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointRegistry,
    PushKind,
    PushMessage,
)
from schemas.vocab import Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, offer_to, planner, registry, with_channels
from tests.unit.test_push_lane_budgets import (  # noqa: F401  (fixture)
    Recorder,
    running,
    start,
)

GROUP = EndpointConfig(
    name="b3-group",
    kind="wecom",
    url="http://wecom.test/cgi-bin/webhook/send",
    token="KEY",
    rate_per_minute=60_000,  # the order, not the rate, is under test
    concurrency=1,
)


def push(
    i: str,
    kind: PushKind = PushKind.GROUP_UPDATE,
    *,
    recipient: str | None = None,
    request: str = "req-1",
    critical: bool = False,
) -> Delivery:
    return Delivery(
        delivery_id=i,
        endpoint=GROUP.name,
        kind=kind,
        message=PushMessage(title="t", text=i),  # the id as text: the order read off the wire
        recipient=recipient,
        data={"request_id": request},
        life_threatening=critical,
    )


class Held(Recorder):
    """Records each message's text; the one reading "blocker" waits for `gate`."""

    def __init__(self) -> None:
        super().__init__(lambda request, n: httpx.Response(200))
        self.gate = asyncio.Event()
        self.texts: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:  # type: ignore[override]
        text = json.loads(request.content)["text"]["content"]
        self.texts.append(text)
        if text == "blocker":
            await self.gate.wait()
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


async def sent_order(running: list[Deliverer], queued: list[Delivery]) -> list[str]:  # noqa: F811
    """Submit `queued` while the lane's one slot is busy, then let them all go: the ids in
    the order they were sent."""
    rec = Held()
    d = start(running, EndpointRegistry([GROUP]), rec, time.monotonic)  # type: ignore[arg-type]
    await d.submit(push("blocker"))
    async with asyncio.timeout(5):
        while not rec.texts:
            await asyncio.sleep(0.005)
    for one in queued:
        await d.submit(one)
    await asyncio.sleep(0.05)  # the lane has looked at its queue: nothing else went
    assert rec.texts == ["blocker"]
    rec.gate.set()
    assert await d.drain(10)
    assert not rec.failed
    assert sorted(rec.delivered) == sorted(["blocker", *(q.delivery_id for q in queued)])
    return rec.texts[1:]


async def test_the_120_message_goes_before_the_backlog_and_offers_before_updates(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """The audit's scenario: 30 ordinary group messages queued, offers among and after
    them, emergency advice of a life-threatening request and a whistle last."""
    updates = [push(f"update-{i}") for i in range(30)]
    offers = [push(f"offer-{i}", PushKind.OFFER, recipient=f"h-{i}") for i in range(3)]
    advice = push("advice-120", critical=True)  # "请立即拨打120" to the asking group
    whistle = push("whistle", PushKind.WHISTLE, recipient="group")
    queued = [*updates[:15], offers[0], *updates[15:], advice, offers[1], offers[2], whistle]
    order = await sent_order(running, queued)
    assert order[:2] == ["advice-120", "whistle"]  # first what waits, in their order
    assert order[2:5] == ["offer-0", "offer-1", "offer-2"]  # short-lived: before the rest
    assert order[5:] == [f"update-{i}" for i in range(30)]  # first in, first out


async def test_first_in_first_out_within_a_priority(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """Offers and stand-downs are one priority: among themselves in the order queued, as
    the ordinary messages among theirs, wherever they were interleaved."""
    queued = [
        push("offer-a", PushKind.OFFER, recipient="h-a", request="req-a"),
        push("update-0"),
        push("cancel-0", PushKind.CANCELLATION, recipient="h-c", request="req-c"),
        push("stand-down-b", PushKind.STAND_DOWN, recipient="h-b", request="req-b"),
        push("update-1"),
        push("offer-c", PushKind.OFFER, recipient="h-d", request="req-d"),
        push("update-2"),
    ]
    order = await sent_order(running, queued)
    assert order == [
        "offer-a", "stand-down-b", "offer-c", "update-0", "cancel-0", "update-1", "update-2"
    ]  # fmt: skip


async def test_a_later_push_to_the_same_helper_about_the_same_request_never_overtakes(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """A request made life-threatening after its offers went out: the stand-down of one is
    planned critical, the offer was not; it still follows its offer (a helper told 无需再来
    before being asked would then be asked). A release notice (kind cancellation) and the
    re-offer after it, the same. Both pairs still go before the ordinary backlog's rest."""
    queued = [
        *(push(f"update-{i}") for i in range(5)),
        push("offer-1", PushKind.OFFER, recipient="h-1", request="req-9"),
        push("update-5"),
        push("released-2", PushKind.CANCELLATION, recipient="h-2", request="req-8"),
        push("stand-down-1", PushKind.STAND_DOWN, recipient="h-1", request="req-9", critical=True),
        push("offer-2", PushKind.OFFER, recipient="h-2", request="req-8"),
        push("update-6"),
    ]
    order = await sent_order(running, queued)
    assert order[:2] == ["offer-1", "stand-down-1"]  # ahead of the backlog, its offer first
    assert order.index("released-2") < order.index("offer-2")
    assert order[2:] == [
        *(f"update-{i}" for i in range(6)), "released-2", "offer-2", "update-6"
    ]  # fmt: skip


@pytest.mark.parametrize("critical", [False, True])
def test_the_planner_marks_a_life_threatening_requests_offer(world: World, critical: bool) -> None:
    """What the lane reads is set where deliveries are planned: an offer of a request said
    to be life-threatening carries the mark, an ordinary one not."""
    with_channels(world, "driver")
    urgency = Urgency.CRITICAL if critical else Urgency.NORMAL
    world.submit(urgency=urgency, life_threatening=critical)
    assert world.request().spec.is_life_threatening() is critical
    [d] = planner(world, registry(*ROBOTS)).plan(offer_to(world, "driver")).deliveries
    assert (d.kind, d.life_threatening) == (PushKind.OFFER, critical)

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
from dispatcher.push.lane import SHORT_LIVED, ReadyQueue, _Job
from schemas.commands import ReferRequest, WithdrawHelper
from schemas.vocab import ReferralTarget, Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, offer_to, planner, registry, with_channels
from tests.unit.test_push_lane_budgets import (  # noqa: F401  (fixture)
    Clock,
    Recorder,
    running,
    start,
    until,
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
    # The release notice is brought up to its re-offer's priority, just ahead of it: the
    # re-offer keeps its place before the ordinary backlog.
    assert order[2:4] == ["released-2", "offer-2"]
    assert order[4:] == [f"update-{i}" for i in range(7)]


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


# --- review r4: the pair rule brings the earlier one up; batches and expiry respect it ----


def queued(*deliveries: Delivery) -> ReadyQueue:
    q = ReadyQueue(SHORT_LIVED)
    for d in deliveries:
        q.append(_Job([(d, 0.0)], 0.0))
    return q


def test_a_critical_offer_brings_an_earlier_ordinary_notice_up_not_itself_down() -> None:
    """H's thank-you for an earlier slot of R (ordinary) waits among 30 group updates; R is
    reopened life-threatening and H offered again. The offer went after the whole backlog
    (31st of 31); now the thank-you goes up to the offer's priority, just ahead of it."""
    q = queued(
        push("thanks", PushKind.THANK_YOU, recipient="H", request="R"),
        *(push(f"update-{i}") for i in range(30)),
        push("offer", PushKind.OFFER, recipient="H", request="R", critical=True),
    )
    order = [job.head.delivery_id for job in q]
    assert order == ["thanks", "offer", *(f"update-{i}" for i in range(30))]
    assert q.pairs[2] == {}  # the thank-you's key left the level it was taken from
    assert q.pairs[0] == {("H", "R"): 2}


def test_bringing_up_keeps_every_pair_in_order_across_levels() -> None:
    """Two earlier notices to H about R at two later levels, and one about another request
    in between: both of H's go up in their order, the other stays where it was."""
    q = queued(
        push("released-H", PushKind.CANCELLATION, recipient="H", request="R"),
        push("offer-X", PushKind.OFFER, recipient="X", request="R2"),
        push("stand-down-H", PushKind.STAND_DOWN, recipient="H", request="R"),
        push("update-0"),
        push("offer-H", PushKind.OFFER, recipient="H", request="R", critical=True),
    )
    order = [job.head.delivery_id for job in q]
    assert order == ["released-H", "stand-down-H", "offer-H", "offer-X", "update-0"]


def test_pair_counts_drop_keys_that_reach_zero() -> None:
    """1000 pushes queued and sent left 1000 zero entries in the counts."""
    q = ReadyQueue(SHORT_LIVED)
    for n in range(1000):
        q.append(
            _Job(
                [(push(f"a{n}", PushKind.ASSIGNMENT, recipient=f"H{n}", request=f"R{n}"), 0.0)], 0.0
            )
        )
        q.popleft()
    assert q.pairs == [{}, {}, {}]


def group_offer(i: str, helper: str, *, critical: bool, endpoint: str = GROUP.name) -> Delivery:
    return Delivery(
        delivery_id=i,
        endpoint=endpoint,
        kind=PushKind.OFFER,
        message=PushMessage(title="t", text=i),
        recipient=helper,
        data={"request_id": "R"},
        batch_key="R:2",  # one wave of R: merged into one @-message
        life_threatening=critical,
    )


async def test_a_merged_message_never_pulls_a_re_offer_ahead_of_its_release_notice(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """H was released from life-threatening R (the notice is not marked critical), then the
    next wave offers R to A and to H again. The group robot merges a wave's offers: the
    merge took H's re-offer from behind the release notice and sent it first ("offer-A
    offer-H", then updates, then "released-H": 无需再来 after the new ask)."""
    order = await sent_order(
        running,
        [
            *(push(f"update-{i}") for i in range(3)),
            push("released-H", PushKind.CANCELLATION, recipient="H", request="R"),
            group_offer("offer-A", "A", critical=True),
            group_offer("offer-H", "H", critical=True),
        ],
    )
    assert order == ["offer-A", "released-H", "offer-H", "update-0", "update-1", "update-2"]


def ok(request: httpx.Request, n: int) -> httpx.Response:
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


async def test_an_offer_behind_a_priority_stream_expires_while_the_lane_waits_its_rate(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """A robot allowed one message in ten minutes, its token spent: an offer (a 120 s
    budget) waits behind critical pushes. While the lane waited for its rate limit only
    the head's deadline was looked at: the offer stayed queued long past its budget and
    its failure (the core re-offers on it) came only when it reached the head."""
    clock = Clock()
    rec = Recorder(ok)
    slow = GROUP.model_copy(update={"rate_per_minute": 0.1, "burst": 1})
    d = start(running, EndpointRegistry([slow]), rec, clock)
    await d.submit(push("critical-0", critical=True))
    await until(lambda: rec.delivered == ["critical-0"])
    await d.submit(push("offer", PushKind.OFFER, recipient="h", request="req-2"))
    await d.submit(push("critical-1", critical=True))
    clock.now += 121  # the offer's budget is spent; the next token is 479 s away
    await d.submit(push("critical-2", critical=True))  # wakes the lane
    await until(lambda: "offer" in rec.failed)
    assert "rate limit" in rec.failed["offer"]
    assert rec.delivered == ["critical-0"] and len(rec.requests) == 1


async def test_a_merged_message_leaves_out_an_offer_past_its_budget(
    running: list[Deliverer],  # noqa: F811
) -> None:
    """A wave's first offer waited 121 s behind a send in flight; a critical offer of the
    same wave queued since heads the merge, which took the expired one along (sent late)
    instead of failing it."""
    clock = Clock()
    rec = Held()
    d = start(running, EndpointRegistry([GROUP]), rec, clock)  # type: ignore[arg-type]
    await d.submit(push("blocker"))
    await until(lambda: rec.texts == ["blocker"])
    await d.submit(group_offer("offer-old", "A", critical=False))
    clock.now += 121
    await d.submit(group_offer("offer-new", "B", critical=True))
    await asyncio.sleep(0.05)
    clock.now += 1  # the wave's merge window is over
    rec.gate.set()
    assert await d.drain(5)
    assert rec.texts == ["blocker", "offer-new"]
    assert list(rec.failed) == ["offer-old"]


@pytest.mark.parametrize("critical", [False, True])
def test_the_planner_marks_a_life_threatening_requests_closing_notices(
    world: World, critical: bool
) -> None:
    """A release notice (staff: not coming) and a referral's notice to the helpers kept
    ("转交120，继续前往") carry the request's mark like its offers: they no longer wait at
    the lowest priority behind an ordinary backlog."""
    for h in ("a", "b", "c"):
        with_channels(world, h)
    urgency = Urgency.CRITICAL if critical else Urgency.NORMAL
    world.submit(urgency=urgency, life_threatening=critical, helpers_needed=2)
    world.accept("a")
    world.accept("b")
    plan = planner(world, registry(*ROBOTS))
    released = world.run(WithdrawHelper(request_id="req-1", helper_id="a", no_show=True))
    notices = [d for e in released.events for d in plan.plan(e).deliveries if d.recipient == "a"]
    referred = world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    notices += [d for e in referred.events for d in plan.plan(e).deliveries if d.recipient == "b"]
    assert [d.kind for d in notices] == [PushKind.CANCELLATION, PushKind.CANCELLATION]
    assert [d.life_threatening for d in notices] == [critical, critical]

"""Pushes in flight when their partition moves (session 35, a review of sessions 34's
withdrawal, `Deliverer.withdraw`): not retried by the old owner (its new owner sends them),
adopted when the partition comes back (its record held until the send settles), and an early
push whose claim was withdrawn and given back keeps its partition."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from dispatcher.push import (
    Deliverer,
    EndpointConfig,
    EndpointKind,
    EndpointRegistry,
    EngineConfig,
    RetryPolicy,
)
from streams.dead_letter import DeadLetterSink
from streams.notify import Notifier, NotifyAgent
from streams.runtime import Stats
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import RELAY_SECRET, planner, with_channels
from tests.unit.test_worker_notify import (
    FakeClock,
    FaustEvent,
    Topic,
    offer_to,
    withdrawing_notifier,
)

FAST = RetryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=4, max_total_time=5.0)


class Relay:
    """The default webhook: the first call waits for `gate` and answers `first`; later
    calls answer 200 at once."""

    def __init__(self, first: int) -> None:
        self.gate = asyncio.Event()
        self.first = first
        self.calls: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if len(self.calls) == 1:
            await self.gate.wait()
            return httpx.Response(self.first)
        return httpx.Response(200)


async def until(cond: Any) -> None:
    async with asyncio.timeout(5):
        while not cond():
            await asyncio.sleep(0.005)


def real_notifier(relay: Relay) -> tuple[World, Notifier, list[Any], httpx.AsyncClient]:
    world = World()
    with_channels(world, "private-driver")  # no channels: the default webhook
    world.submit()
    endpoint = EndpointConfig(
        name="default",
        kind=EndpointKind.WEBHOOK,
        url="http://relay.test/push",
        secret=RELAY_SECRET,
        concurrency=1,
    )
    sent: list[Any] = []

    async def send_command(command: Any) -> None:
        sent.append(command)

    n = Notifier(planner(world, EndpointRegistry([endpoint])), send_command, FakeClock())
    client = real_deliverer(n, relay, EngineConfig(retry=FAST))
    return world, n, sent, client


def real_deliverer(n: Notifier, handler: Any, config: EngineConfig) -> httpx.AsyncClient:
    """`n` pushing through a real `Deliverer` to `handler`; the client, to close."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    n._deliverer = Deliverer(
        n.registry,
        on_delivered=n._delivered,
        on_permanent_failure=n._failed,
        client=client,
        config=config,
        rand=lambda: 0.0,
    )
    return client


async def test_partition_back_while_a_withdrawn_push_is_in_flight_holds_its_record() -> None:
    """P moved away while E's push was in flight (withdraw_moved leaves it in the
    Deliverer), then P came back and E's record is read again: the new plan's submit
    answers DUPLICATE and E is settled at once, its record acknowledged while the push is
    still unsettled. A stop now (the Deliverer dropped, as Notifier.close does) loses it:
    the record is committed, the push never delivered."""
    relay = Relay(first=503)
    world, n, _, client = real_notifier(relay)
    event = offer_to(world, "private-driver")
    try:
        first = FaustEvent()
        await n.handle(first, event, 3)
        await until(lambda: len(relay.calls) == 1)  # in flight
        assert n.withdraw_moved(frozenset()) == (1, 0)  # nothing queued: in flight goes on
        again = FaustEvent()  # P back at the next rebalance: its record read again
        await n.handle(again, event, 3)
        acked_while_unsettled = again.acks
        assert n._deliverer is not None
        dropped = await n._deliverer.drain(0.05) is False  # the push not settled yet
    finally:
        await n._deliverer.aclose() if n._deliverer else None  # a stop: dropped unsettled
        await client.aclose()
    assert dropped
    assert acked_while_unsettled == 0, "record acknowledged while its push is unsettled"


async def test_a_push_in_flight_at_the_withdrawal_is_not_retried_by_the_old_owner() -> None:
    """In flight at the assignment, answered 503: the old owner's lane puts it back for a
    retry and sends it again, though its partition is another worker's (which sends it
    too). With LASTING kinds (30 min) behind a throttled endpoint this goes on."""
    relay = Relay(first=503)
    world, n, _, client = real_notifier(relay)
    try:
        await n.handle(FaustEvent(), offer_to(world, "private-driver"), 3)
        await until(lambda: len(relay.calls) == 1)
        n.withdraw_moved(frozenset())
        relay.gate.set()
        assert n._deliverer is not None
        assert await n._deliverer.drain(5)
    finally:
        await n._deliverer.aclose() if n._deliverer else None
        await client.aclose()
    assert len(relay.calls) == 1, f"sent {len(relay.calls)} times by the old owner"


async def test_an_early_push_withdrawn_then_back_keeps_its_partition() -> None:
    """Claimed with its partition, withdrawn (P moved), P back before push_early reaches it
    with the state's generation unchanged: `early` claims it again without a partition, so
    a later move of P never withdraws it."""
    world, n, deliverer = withdrawing_notifier()
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))  # type: ignore[arg-type]
    event = offer_to(world, "private-driver")
    agent.hand_over([(3, event)])
    agent.on_assigned(frozenset({5}))  # P=3 moved away: the claim withdrawn
    agent.on_assigned(frozenset({3, 5}))  # and back
    task = asyncio.create_task(agent.push_early())
    await until(lambda: deliverer.deliveries)
    task.cancel()
    [delivery] = deliverer.deliveries
    agent.on_assigned(frozenset({5}))  # P=3 moves away again
    assert delivery.delivery_id in deliverer.withdrawn, (
        f"not withdrawn: held partition {n._pending[event.event_id].partition}"
    )


async def test_a_kept_partition_in_an_eager_rebalance_keeps_its_pushes() -> None:
    """(5) Revoked and assigned back in one rebalance: nothing withdrawn, the record read
    again joins the pending event (no second plan), acked once the push settles."""
    world, n, deliverer = withdrawing_notifier()
    event = offer_to(world, "private-driver")
    first = FaustEvent()
    await n.handle(first, event, 3)
    assert n.withdraw_moved(frozenset({3})) == (0, 0)
    again = FaustEvent()
    await n.handle(again, event, 3)
    assert len(deliverer.deliveries) == 1 and not deliverer.withdrawn
    await n._delivered(deliverer.deliveries[0], 0.1)
    assert (first.acks, again.acks) == (1, 1)


async def test_a_whistle_back_with_its_partition_still_reports_nobody_reached() -> None:
    """The whistle's push to the duty officer in flight when P moved; P back, the record
    read again: the Deliverer answers DUPLICATE for the send in flight, which the notifier
    counts as *reached* (`_call_outcome(d, None)`); when that send then fails for good, as
    the others did, no ReportStaffNotReached is ever sent."""
    from tests.unit.test_notify_staff_not_reached import GROUP, STAFF_LIST, _rung
    from tests.unit.test_push_deliveries import registry as reg
    from tests.unit.test_worker_notify import notifier

    world = World()
    whistle = _rung(world, "whistle_blown")
    n, sent, _ = notifier(planner(world, reg(*STAFF_LIST)))
    [duty] = [d for d in n.planner.plan(whistle).deliveries if d.endpoint == f"{GROUP}.duty"]
    gate = asyncio.Event()
    duty_calls: list[int] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        if request.headers.get("webhook-id") == duty.delivery_id:
            duty_calls.append(1)
            if len(duty_calls) == 1:
                await gate.wait()  # in flight across the two rebalances
        return httpx.Response(410)  # lost for good, everywhere

    client = real_deliverer(n, receive, EngineConfig(retry=FAST, lasting_retry=FAST))
    try:
        await n.handle(FaustEvent(), whistle, 3)
        await until(lambda: duty_calls)
        await asyncio.sleep(0.05)  # the others failed for good meanwhile
        n.withdraw_moved(frozenset())  # P moved away: the duty push goes on
        again = FaustEvent()
        await n.handle(again, whistle, 3)  # P back, its record read again
        gate.set()
        assert await n._deliverer.drain(5)
    finally:
        await n._deliverer.aclose() if n._deliverer else None
        await client.aclose()
    assert [c.body.type for c in sent] == ["report_staff_not_reached"], sent

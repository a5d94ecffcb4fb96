"""A push no longer wanted is dropped before its attempt (session 38, two audits): the
engine asks its `still_wanted` hook before each attempt, and drops what it refuses, neither
delivered nor failed (no LOST, no report), counted as withdrawn; the notify agent answers
from its state (an assignment while its request is live and the helper still assigned, a
whistle or referral while the request is live) and settles the dropped push as a delivered
one, so its event's record is still acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from dispatcher.ops.metrics import REGISTRY
from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointKind,
    EndpointRegistry,
    EngineConfig,
    PushKind,
    PushMessage,
    RetryPolicy,
)
from schemas.commands import CancelRequest, Command, ReferRequest, WithdrawHelper
from schemas.staff_actions import ClaimRequest
from schemas.vocab import Party, ReferralTarget
from streams.notify import Notifier
from tests.support.held_push import Refusing as Endpoint
from tests.support.held_push import held_then_let_through
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import RELAY_SECRET, planner, with_channels
from tests.unit.test_worker_notify import FakeClock, FaustEvent

FAST = RetryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=50, max_total_time=30.0)
RELAY = EndpointConfig(
    name="default",
    kind=EndpointKind.WEBHOOK,
    url="http://relay.test/push",
    secret=RELAY_SECRET,
)


def lost(kind: PushKind) -> float:
    return REGISTRY.get_sample_value("dispatch_push_lost_total", {"kind": kind.value}) or 0.0


def withdrawn(kind: PushKind) -> float:
    return REGISTRY.get_sample_value("dispatch_push_withdrawn_total", {"kind": kind.value}) or 0.0


class Outcomes:
    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.failed: list[str] = []
        self.withdrawn: list[str] = []

    async def on_delivered(self, d: Delivery, latency: float) -> None:
        self.delivered.append(d.delivery_id)

    async def on_failed(self, d: Delivery, reason: str) -> None:
        self.failed.append(d.delivery_id)

    async def on_withdrawn(self, d: Delivery) -> None:
        self.withdrawn.append(d.delivery_id)


def assignment(i: int = 1) -> Delivery:
    return Delivery(
        delivery_id=f"a-{i}",
        endpoint="default",
        kind=PushKind.ASSIGNMENT,
        message=PushMessage(title="您已接单", text="联系人：王女士 13912345678"),
        recipient="ann",
        data={"request_id": "r-1", "offer_id": "o-1"},
    )


def deliverer(
    endpoint: Endpoint, outcomes: Outcomes, wanted: Any, retry: RetryPolicy = FAST
) -> tuple[Deliverer, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    d = Deliverer(
        EndpointRegistry([RELAY]),
        on_delivered=outcomes.on_delivered,
        on_permanent_failure=outcomes.on_failed,
        client=client,
        config=EngineConfig(retry=retry, lasting_retry=retry),
        rand=lambda: 0.0,
        still_wanted=wanted,
        on_withdrawn=outcomes.on_withdrawn,
    )
    return d, client


async def test_a_retried_push_no_longer_wanted_is_dropped_not_sent_nor_lost() -> None:
    """The helper's endpoint refuses while she accepts; the request ends; the endpoint
    recovers: the assignment (the requester's contact) is not sent after the end."""
    endpoint, outcomes, live = Endpoint(503), Outcomes(), [True]
    d, client = deliverer(endpoint, outcomes, lambda delivery: live[0])
    lost_before, withdrawn_before = lost(PushKind.ASSIGNMENT), withdrawn(PushKind.ASSIGNMENT)
    try:
        await d.submit(assignment())
        async with asyncio.timeout(5):
            await endpoint.refused.wait()
        live[0] = False  # cancelled: the next attempt finds it unwanted
        endpoint.recover()
        refused = len(endpoint.calls)
        assert await d.drain(5)
        [lane] = d.stats()
    finally:
        await d.aclose()
        await client.aclose()
    assert len(endpoint.calls) == refused  # not one send after the end
    assert (outcomes.delivered, outcomes.failed, outcomes.withdrawn) == ([], [], ["a-1"])
    assert lane.withdrawn == 1 and d.pending == 0
    assert lost(PushKind.ASSIGNMENT) == lost_before  # not LOST: nobody to call another way
    assert withdrawn(PushKind.ASSIGNMENT) == withdrawn_before + 1


async def test_a_push_unwanted_at_its_first_attempt_is_never_sent() -> None:
    endpoint, outcomes = Endpoint(200), Outcomes()
    d, client = deliverer(endpoint, outcomes, lambda delivery: delivery.delivery_id != "a-1")
    try:
        await d.submit(assignment(1))
        await d.submit(assignment(2))
        assert await d.drain(5)
    finally:
        await d.aclose()
        await client.aclose()
    assert [r.headers["webhook-id"] for r in endpoint.calls] == ["a-2"]
    assert (outcomes.delivered, outcomes.withdrawn, outcomes.failed) == (["a-2"], ["a-1"], [])


async def test_ended_during_a_refused_send_it_is_dropped_not_given_up() -> None:
    """The request ends while the last attempt the budget allows is on its way: dropped as
    unwanted, not failed for good (no LOST alarm, no report)."""
    outcomes, live = Outcomes(), [True]

    async def refuse_and_end(request: httpx.Request) -> httpx.Response:
        live[0] = False
        return httpx.Response(503)

    once = RetryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=1, max_total_time=30.0)
    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse_and_end))
    d = Deliverer(
        EndpointRegistry([RELAY]),
        on_delivered=outcomes.on_delivered,
        on_permanent_failure=outcomes.on_failed,
        client=client,
        config=EngineConfig(retry=once, lasting_retry=once),
        still_wanted=lambda delivery: live[0],
        on_withdrawn=outcomes.on_withdrawn,
    )
    lost_before = lost(PushKind.ASSIGNMENT)
    try:
        await d.submit(assignment())
        assert await d.drain(5)
    finally:
        await d.aclose()
        await client.aclose()
    assert (outcomes.failed, outcomes.withdrawn) == ([], ["a-1"])
    assert lost(PushKind.ASSIGNMENT) == lost_before


async def test_a_hook_that_raises_keeps_the_push() -> None:
    endpoint, outcomes = Endpoint(200), Outcomes()

    def broken(delivery: Delivery) -> bool:
        raise KeyError("request_id")

    d, client = deliverer(endpoint, outcomes, broken)
    try:
        await d.submit(assignment())
        assert await d.drain(5)
    finally:
        await d.aclose()
        await client.aclose()
    assert (outcomes.delivered, outcomes.withdrawn) == (["a-1"], [])


# ---------------------------------------------------------------- the notify agent's hook


def assigned_world() -> tuple[World, Notifier, list[Command]]:
    world = World()
    with_channels(world, "private-driver")  # no channels: the default webhook
    world.submit()
    world.accept("private-driver")
    sent: list[Command] = []

    async def send_command(command: Command) -> None:
        sent.append(command)

    return (
        world,
        Notifier(planner(world, EndpointRegistry([RELAY])), send_command, FakeClock()),
        sent,
    )


def assignment_event(world: World) -> Any:
    return next(e for e in world.events if e.body.type == "helper_assigned")


async def test_an_assignment_held_by_an_outage_is_dropped_after_the_cancel_its_record_acked() -> (
    None
):
    world, n, sent = assigned_world()
    endpoint, record = Endpoint(503), FaustEvent()

    def cancel() -> None:
        world.run(CancelRequest(request_id="req-1", by=Party.STAFF))

    refused = await held_then_let_through(
        n, endpoint, record, assignment_event(world), cancel, FAST
    )
    assert len(endpoint.calls) == refused  # the contact never sent after the cancel
    assert record.acks == 1  # settled as a delivered push: the record acknowledged
    assert sent == []  # neither a failed delivery nor anybody unreached reported
    assert n.withdrawn == 1


def test_the_hook_follows_the_request_and_the_assignment() -> None:
    world, n, _ = assigned_world()
    planned = n.planner.plan(assignment_event(world))
    [push] = planned.deliveries
    assert push.kind is PushKind.ASSIGNMENT and n.still_wanted(push)
    world.run(WithdrawHelper(request_id="req-1", helper_id="private-driver"))  # 去不了了
    assert not n.still_wanted(push)

    world, n, _ = assigned_world()
    [push] = n.planner.plan(assignment_event(world)).deliveries
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    assert not n.still_wanted(push)
    whistle = push.model_copy(update={"kind": PushKind.WHISTLE, "delivery_id": "w-1"})
    assert not n.still_wanted(whistle)  # a claim link for a closed request
    stand_down = push.model_copy(update={"kind": PushKind.CANCELLATION, "delivery_id": "c-1"})
    assert n.still_wanted(stand_down)  # the end is told, whatever happens
    elsewhere = push.model_copy(update={"data": {"request_id": "not-held-here"}})
    assert n.still_wanted(elsewhere)  # unknown here: sent as decided


def test_a_referral_to_an_emergency_service_keeps_the_assignment_elsewhere_not() -> None:
    """Handed to 120 the helpers stay on their way (told to go on): her assignment still
    goes; handed to property they are stood down: it does not. A whistle goes in neither."""
    for to, kept in ((ReferralTarget.AMBULANCE, True), (ReferralTarget.PROPERTY, False)):
        world, n, _ = assigned_world()
        [push] = n.planner.plan(assignment_event(world)).deliveries
        world.run(ReferRequest(request_id="req-1", to=to))
        assert n.still_wanted(push) is kept, to
        whistle = push.model_copy(update={"kind": PushKind.WHISTLE, "delivery_id": "w-1"})
        assert not n.still_wanted(whistle)


def test_a_claimed_request_calls_no_more_staff() -> None:
    world, n, _ = assigned_world()
    [push] = n.planner.plan(assignment_event(world)).deliveries
    whistle = push.model_copy(update={"kind": PushKind.WHISTLE, "delivery_id": "w-1"})
    assert n.still_wanted(whistle)
    world.run(ClaimRequest(request_id="req-1", by="li.wei"))
    assert not n.still_wanted(whistle)
    assert n.still_wanted(push)  # the helper on her way: her assignment still goes


def test_an_open_offer_is_wanted_and_one_of_a_cancelled_request_is_not() -> None:
    world = World()
    with_channels(world, "private-driver")
    world.submit()
    n = Notifier(planner(world, EndpointRegistry([RELAY])), _no_send, FakeClock())
    offer = next(e for e in world.offer_events() if e.body.helper_id == "private-driver")
    [push] = n.planner.plan(offer).deliveries
    assert push.kind is PushKind.OFFER and n.still_wanted(push)
    world.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    assert not n.still_wanted(push)


async def _no_send(command: Command) -> None:
    return None


async def test_a_staff_call_whose_push_was_dropped_reports_nobody_unreached() -> None:
    """A whistle's two pushes: one lost for good, the other dropped once the request ended:
    no `ReportStaffNotReached` (the request has ended), and the event is acknowledged."""
    from dispatcher.push.deliveries import Planned, StaffCall
    from schemas.commands import ReportStaffNotReached

    world, n, sent = assigned_world()
    event = assignment_event(world)
    pushes = [
        Delivery(
            delivery_id=f"w-{i}",
            endpoint="default",
            kind=PushKind.WHISTLE,
            message=PushMessage(title="吹哨", text="认领"),
            data={"request_id": "req-1", "role": "grid_worker"},
        )
        for i in (1, 2)
    ]
    report = ReportStaffNotReached(
        request_id="req-1",
        rung="whistle",
        step=2,
        called_at=event.occurred_at,
        recipients=2,
        roles=("grid_worker",),
    )
    call = StaffCall(event.event_id, event.community_id, frozenset({"w-1", "w-2"}), report)
    n.planner.plan = lambda e: Planned(pushes, call=call)  # type: ignore[method-assign]

    class Queued:
        async def submit(self, delivery: Delivery) -> Any:
            from dispatcher.push import SubmitOutcome

            return SubmitOutcome.ACCEPTED

    n._deliverer = Queued()  # type: ignore[assignment]
    record = FaustEvent()
    await n.handle(record, event, 0)
    await n._failed(pushes[0], "410 Gone")
    await n._withdrawn(pushes[1])
    assert sent == [] and record.acks == 1

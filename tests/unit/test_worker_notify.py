"""The notify agent's bookkeeping (streams/notify.py) and the dead-letter sink, with a fake
clock: an event is acknowledged only when every delivery it caused is settled, and the
commands it sends back carry the injected clock's time."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointKind,
    EndpointRegistry,
    SubmitOutcome,
)
from dispatcher.push.deliveries import DeliveryPlanner
from schemas.commands import Command
from schemas.dead_letter import DeadLetter
from streams import notify
from streams.batch_ack import BatchAck
from streams.dead_letter import DeadLetterSink
from streams.notify import Notifier, NotifyAgent
from streams.runtime import Stats
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, events, planner, registry, with_channels

FAKE_NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeClock:
    def now(self) -> datetime:
        return FAKE_NOW

    def monotonic(self) -> float:
        return 42.0


class FaustEvent:
    def __init__(self) -> None:
        self.acks = 0

    def ack(self) -> None:
        self.acks += 1


class Submitted:
    """Stands in for the Deliverer: records what was submitted, sends nothing."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def submit(self, delivery: Delivery) -> SubmitOutcome:
        self.deliveries.append(delivery)
        return SubmitOutcome.ACCEPTED


def notifier(p: DeliveryPlanner) -> tuple[Notifier, list[Command], Submitted]:
    sent: list[Command] = []

    async def send_command(command: Command) -> None:
        sent.append(command)

    n = Notifier(p, send_command, FakeClock())
    submitted = Submitted()
    n._deliverer = submitted  # type: ignore[assignment]
    return n, sent, submitted


def offered_world() -> World:
    world = World()
    with_channels(world, "private-driver")
    with_channels(world, "lost-driver", "wecom:nowhere")
    world.submit()
    return world


def robots_notifier() -> tuple[World, Notifier, list[Command], Submitted]:
    """The offered world, and a notifier over the group robots' endpoints."""
    world = offered_world()
    return (world, *notifier(planner(world, registry(*ROBOTS))))


def offer_to(world: World, helper_id: str) -> Any:
    return next(e for e in world.offer_events() if e.body.helper_id == helper_id)


async def test_an_unreachable_helper_is_reported_at_the_clocks_time_and_the_event_acked() -> None:
    world, n, sent, submitted = robots_notifier()
    faust_event = FaustEvent()
    await n.handle(faust_event, offer_to(world, "lost-driver"))
    [command] = sent
    assert command.body.type == "delivery_failed" and command.issued_at == FAKE_NOW
    assert (faust_event.acks, submitted.deliveries) == (1, [])


async def test_an_event_is_acked_once_its_delivery_settles_and_a_failed_offer_is_reported() -> None:
    world, n, sent, submitted = robots_notifier()
    faust_event = FaustEvent()
    await n.handle(faust_event, offer_to(world, "private-driver"))
    [delivery] = submitted.deliveries
    assert faust_event.acks == 0  # submitted, not settled: a crash now re-sends it
    await n._failed(delivery, "410 Gone")
    assert faust_event.acks == 1
    [command] = sent
    assert (command.body.type, command.issued_at) == ("delivery_failed", FAKE_NOW)
    assert command.body.helper_id == "private-driver"
    await n._delivered(delivery, 0.1)  # a late second outcome acks nothing twice
    assert faust_event.acks == 1


class Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, bytes]] = []

    async def send(self, *, key: Any, value: bytes) -> asyncio.Future[None]:
        """As Faust's: the record buffered, its future (here acknowledged at once) returned."""
        self.sent.append((key, value))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


class Record:
    topic, partition, offset, key, value = "commands", 3, 17, b"c1", b"not json 13800000000"


async def test_a_dead_letter_carries_position_reason_and_the_clocks_time() -> None:
    topic, stats = Topic(), Stats()
    await DeadLetterSink(topic, stats, FakeClock()).send(Record(), "undecodable", "decode")
    [(key, value)] = topic.sent
    letter = DeadLetter.model_validate(json.loads(value))
    assert (key, letter.source_topic, letter.partition, letter.offset) == ("c1", "commands", 3, 17)
    assert (letter.reason, letter.stage, letter.at) == ("undecodable", "decode", FAKE_NOW)
    assert base64.b64decode(letter.payload_b64) == Record.value
    assert stats.dead_letters == 1


async def test_a_welcome_is_reported_sent_only_when_a_private_channel_took_it() -> None:
    """Issue 14: the notify agent reports each welcome back; the core unmarks one that
    reached nobody, so a later run welcomes that helper once they have a channel."""
    from schemas.helper_messages import WelcomeHelper

    world = World()
    with_channels(world, "private-driver")
    with_channels(world, "group-driver", "wecom:grid-3")  # only a group robot
    p = planner(world, registry(*ROBOTS))
    p.personal_link = lambda hid, cid, now: f"https://x.example/l/h/{hid}"
    n, sent, submitted = notifier(p)
    for hid in ("private-driver", "group-driver"):
        world.run(WelcomeHelper(helper_id=hid))
    for welcome in events(world, "helper_welcomed"):
        await n.handle(FaustEvent(), welcome)
    [delivery] = submitted.deliveries  # the private one only
    [unsent] = sent  # the group-only helper: reported at once, before any push
    assert (unsent.body.type, unsent.body.helper_id, unsent.body.sent, unsent.body.reason) == (
        "report_welcome_outcome",
        "group-driver",
        False,
        "no private channel",
    )
    await n._delivered(delivery, 0.1)
    assert [(c.body.helper_id, c.body.sent) for c in sent[1:]] == [("private-driver", True)]
    for command in sent:  # the core records what the agent said
        world.run(command)
    assert world.state.helpers["private-driver"].welcomed_at is not None
    assert world.state.helpers["group-driver"].welcomed_at is None
    outcomes = [(e.body.helper_id, e.body.sent) for e in events(world, "helper_welcome_outcome")]
    assert outcomes == [("group-driver", False), ("private-driver", True)]
    # Given a private channel, the next welcome goes out.
    with_channels(world, "group-driver", "webhook:default")
    again = world.run(WelcomeHelper(helper_id="group-driver"))
    [event] = [e for e in again.events if e.body.type == "helper_welcomed"]
    await n.handle(FaustEvent(), event)
    assert [d.recipient for d in submitted.deliveries] == ["private-driver", "group-driver"]
    # A welcome whose push fails for good is reported as not sent either.
    await n._failed(submitted.deliveries[-1], "410 Gone")
    assert (sent[-1].body.helper_id, sent[-1].body.sent) == ("group-driver", False)


async def test_a_waves_offers_go_to_a_batching_relay_in_one_post_at_once() -> None:
    """The relay lane sends its first batch after a quiet window at once (push/lane.py),
    trusting that a wave's deliveries are all queued before it runs: `Notifier.handle`
    submits them without yielding. A frozen clock and a 10 s window: a lane that waited
    for more of the wave could not drain in the 5 s given."""
    world = World()
    for i in range(4):
        with_channels(world, f"driver-{i}")  # no channels: the default webhook
    decision = world.submit(helpers_needed=4)
    [wave] = [e for e in decision.events if e.body.type == "offers_sent"]
    relay = EndpointConfig(
        name="default",
        kind=EndpointKind.WEBHOOK,
        url="http://relay.test/push",
        secret="whsec_c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M=",  # key b"s" * 32
        batch_max=32,
        batch_window_seconds=10,
    )
    posts: list[httpx.Request] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(200)

    n, _, _ = notifier(planner(world, EndpointRegistry([relay])))
    client = httpx.AsyncClient(transport=httpx.MockTransport(receive))
    n._deliverer = Deliverer(n.registry, client=client, clock=lambda: 1000.0)
    try:
        await n.handle(FaustEvent(), wave)
        assert await n._deliverer.drain(5)
    finally:
        await n._deliverer.aclose()
        await client.aclose()
    [post] = posts
    batch = json.loads(post.content)["data"]["deliveries"]
    assert sorted(e["recipient"] for e in batch) == [f"driver-{i}" for i in range(4)]


# --- early pushes: an event handed over before its record is read back ------------------


async def test_an_event_pushed_early_is_not_pushed_again_when_its_record_comes() -> None:
    world, n, _, submitted = robots_notifier()
    event = offer_to(world, "private-driver")
    assert await n.early(event) == []
    [delivery] = submitted.deliveries
    record = FaustEvent()
    await n.handle(record, event)
    assert submitted.deliveries == [delivery]  # planned and submitted once
    assert record.acks == 0  # the delivery is not settled: a crash now re-sends it
    await n._delivered(delivery, 0.1)
    assert record.acks == 1 and (n.early_pushed, n.record_pushed) == (1, 0)


async def test_a_record_whose_early_pushes_have_settled_is_acknowledged_at_once() -> None:
    world, n, _, submitted = robots_notifier()
    event = offer_to(world, "private-driver")
    await n.early(event)
    await n._delivered(submitted.deliveries[0], 0.1)
    record = FaustEvent()
    await n.handle(record, event)
    assert record.acks == 1 and len(submitted.deliveries) == 1
    again = FaustEvent()  # the record read twice (a rebalance back): settled, acknowledged
    await n.handle(again, event)
    assert again.acks == 1 and len(submitted.deliveries) == 1


async def test_an_event_handed_over_twice_is_pushed_once() -> None:
    world, n, _, submitted = robots_notifier()
    event = offer_to(world, "private-driver")
    await n.early(event)
    await n.early(event)  # a group decided again re-sends its events
    await n._delivered(submitted.deliveries[0], 0.1)
    await n.early(event)
    assert len(submitted.deliveries) == 1 and n.early_pushed == 1


async def test_an_unreachable_helper_pushed_early_is_reported_once() -> None:
    world, n, sent, submitted = robots_notifier()
    event = offer_to(world, "lost-driver")
    await n.early(event)
    record = FaustEvent()
    await n.handle(record, event)
    assert [c.body.type for c in sent] == ["delivery_failed"]
    assert (record.acks, submitted.deliveries) == (1, [])


async def test_the_settled_memory_is_bounded_oldest_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(notify, "SETTLED_KEPT", 2)
    world = World()
    for i in range(3):
        with_channels(world, f"driver-{i}", "wecom:nowhere")  # unreachable: settled at once
    world.submit(helpers_needed=3)
    n, _, _ = notifier(planner(world, registry(*ROBOTS)))
    offers = world.offer_events()
    for event in offers:
        await n.early(event)
    assert list(n._settled) == [e.event_id for e in offers[1:]]


class FailingOnce:
    """A planner whose first plan raises (a bug met by one event)."""

    def __init__(self, real: DeliveryPlanner) -> None:
        self.real, self.failed = real, False
        self.registry = real.registry

    def plan(self, event: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a planning bug")
        return self.real.plan(event)


async def test_an_early_push_that_fails_leaves_the_event_to_its_record() -> None:
    world = offered_world()
    n, _, submitted = notifier(FailingOnce(planner(world, registry(*ROBOTS))))  # type: ignore[arg-type]
    event = offer_to(world, "private-driver")
    assert await n.early(event) == []  # no record waiting yet
    assert not n._pending and not n._settled
    record = FaustEvent()
    await n.handle(record, event)  # planned from the record, as without early pushes
    [delivery] = submitted.deliveries
    await n._delivered(delivery, 0.1)
    assert record.acks == 1


async def test_an_early_push_failing_after_its_record_came_returns_that_records_ack() -> None:
    world = offered_world()
    [wave] = [e for e in world.events if e.body.type == "offers_sent"]
    gate = asyncio.Event()

    async def send_command(command: Command) -> None:
        await gate.wait()  # the lost driver's report: the record is read meanwhile

    class Broken:
        async def submit(self, delivery: Delivery) -> SubmitOutcome:
            raise RuntimeError("closed")

    n = Notifier(planner(world, registry(*ROBOTS)), send_command, FakeClock())
    n._deliverer = Broken()  # type: ignore[assignment]
    early = asyncio.create_task(n.early(wave))
    await asyncio.sleep(0)
    record = FaustEvent()
    await n.handle(record, wave)  # waits for the early push's deliveries
    gate.set()
    assert await early == [record]  # to be handled as the record's own (NotifyAgent)
    assert record.acks == 0 and not n._pending


async def test_an_event_settled_from_its_record_is_not_pushed_early_after() -> None:
    # The record can come first: the one-command path hands events over after its table
    # writes and applying the decision.
    world, n, sent, submitted = robots_notifier()
    lost, private = offer_to(world, "lost-driver"), offer_to(world, "private-driver")
    for event in (lost, private):
        await n.handle(FaustEvent(), event)
    await n._delivered(submitted.deliveries[0], 0.1)
    for event in (lost, private):
        assert not n.claim(event)
        assert await n.early(event) == []
    assert [c.body.type for c in sent] == ["delivery_failed"]  # reported once
    assert len(submitted.deliveries) == 1 and (n.early_pushed, n.record_pushed) == (0, 2)


async def test_a_record_read_before_its_claimed_event_is_pushed_waits_for_that_push() -> None:
    world, n, _, submitted = robots_notifier()
    event = offer_to(world, "private-driver")
    assert n.claim(event)
    record = FaustEvent()
    await n.handle(record, event)  # not planned from the record: the early push will
    assert submitted.deliveries == [] and record.acks == 0
    assert await n.early(event) == []
    [delivery] = submitted.deliveries
    await n._delivered(delivery, 0.1)
    assert record.acks == 1


async def test_a_claimed_event_released_hands_back_its_records_ack() -> None:
    world, n, _, submitted = robots_notifier()
    event = offer_to(world, "private-driver")
    assert n.claim(event)
    record = FaustEvent()
    await n.handle(record, event)
    assert n.release(event) == [record] and not n._pending
    await n.handle(record, event)  # handled as the record's own, as NotifyAgent does
    assert len(submitted.deliveries) == 1


def first_send_refused() -> tuple[World, Notifier, list[Command], Submitted]:
    """A notifier over the robots' world whose first command send raises (the broker
    away), and the commands it tried to send."""
    world = offered_world()
    attempts: list[Command] = []

    async def send_command(command: Command) -> None:
        attempts.append(command)
        if len(attempts) == 1:
            raise RuntimeError("broker away")

    n = Notifier(planner(world, registry(*ROBOTS)), send_command, FakeClock())
    submitted = Submitted()
    n._deliverer = submitted  # type: ignore[assignment]
    return world, n, attempts, submitted


async def test_a_report_whose_send_failed_stays_queued_until_sent() -> None:
    world, n, attempts, _ = first_send_refused()
    record = FaustEvent()
    await n.handle(record, offer_to(world, "lost-driver"))  # a refused send raises nothing
    assert record.acks == 0 and len(n._unreachable) == 1  # held until its report is sent
    assert n._retrying is not None
    await n._retrying  # the retry (its first wait is 1 s) sends it
    assert len(attempts) == 2 and attempts[0] is attempts[1] and not n._unreachable
    assert record.acks == 1


async def test_a_failed_pushs_report_refused_by_kafka_is_retried_and_then_acks_its_event() -> None:
    """The push failed for good and its ReportDeliveryFailure's send raised: the report
    stays queued and the event unacknowledged (a restart would push it again) until a
    retry sends it; then the event is acknowledged (it used to be dropped and stall)."""
    world, n, attempts, submitted = first_send_refused()
    record = FaustEvent()
    await n.handle(record, offer_to(world, "private-driver"))
    [delivery] = submitted.deliveries
    await n._failed(delivery, "410 Gone")  # as the engine calls it: must not raise
    assert len(attempts) == 1 and len(n._unreachable) == 1 and record.acks == 0
    assert n._retrying is not None
    await n._retrying  # the retry (its first wait is 1 s) sends it
    assert [a.body.type for a in attempts] == ["delivery_failed"] * 2
    assert attempts[0] is attempts[1] and not n._unreachable
    assert record.acks == 1 and not n._pending


async def test_events_handed_over_after_a_state_rebuild_go_to_their_records() -> None:
    world, n, _, submitted = robots_notifier()
    generation = [1]
    owned: list[int] = []

    async def owns(partition: int) -> bool:
        owned.append(partition)
        return True

    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()), owns=owns)  # type: ignore[arg-type]
    agent.generation = lambda: generation[0]
    event = offer_to(world, "private-driver")
    agent.hand_over([(Record.partition, event)])
    record = FaustEvent()
    record.message = Record()  # type: ignore[attr-defined]
    [part] = BatchAck.parts(record, 1)
    await n.handle(part, event)  # read while claimed: waits for the early push
    generation[0] = 2  # a rebalance rebuilt the state before the early push
    task = asyncio.create_task(agent.push_early())
    async with asyncio.timeout(5):
        while not submitted.deliveries:
            await asyncio.sleep(0.001)
    task.cancel()
    assert owned == [Record.partition] and n.early_pushed == 0  # planned from its record
    await n._delivered(submitted.deliveries[0], 0.1)
    assert record.acks == 1


class Withdrawing(Submitted):
    """A Deliverer stand-in that also takes withdrawals (`Deliverer.withdraw`)."""

    def __init__(self) -> None:
        super().__init__()
        self.withdrawn: set[str] = set()
        self.during_submit: Any = None  # called inside the next submit (a signal mid-push)

    async def submit(self, delivery: Delivery) -> SubmitOutcome:
        outcome = await super().submit(delivery)
        if self.during_submit is not None:
            call, self.during_submit = self.during_submit, None
            call()
        return outcome

    def withdraw(self, delivery_ids: set[str]) -> set[str]:
        self.withdrawn |= delivery_ids
        return delivery_ids


def withdrawing_notifier() -> tuple[World, Notifier, Withdrawing]:
    """Two helpers offered, each pushed through the default endpoint."""
    world = World()
    with_channels(world, "private-driver")
    with_channels(world, "second-driver")
    world.submit()
    n, _, _ = notifier(planner(world, registry(*ROBOTS)))
    deliverer = Withdrawing()
    n._deliverer = deliverer  # type: ignore[assignment]
    return world, n, deliverer


async def test_a_moved_partitions_queued_pushes_are_withdrawn_and_its_record_never_acked() -> None:
    """Before: a worker whose partition moved went on sending its whole queue of that
    partition's pushes while the new owner, reading the unacknowledged records, sent them
    again: a group robot posted each offer twice."""
    world, n, deliverer = withdrawing_notifier()
    moved, kept = FaustEvent(), FaustEvent()
    await n.handle(moved, offer_to(world, "private-driver"), 3)
    await n.handle(kept, offer_to(world, "second-driver"), 5)
    [moved_delivery, kept_delivery] = deliverer.deliveries
    assert n.withdraw_moved(frozenset({5})) == (1, 1)
    assert deliverer.withdrawn == {moved_delivery.delivery_id}
    # Had it been in flight, its outcome settles nothing: the record stays unacknowledged.
    await n._delivered(moved_delivery, 0.1)
    assert moved.acks == 0 and moved_delivery.delivery_id not in n._settled
    await n._delivered(kept_delivery, 0.1)  # the kept partition's events as before
    assert kept.acks == 1
    # The partition back (its record read again): planned and pushed again.
    again = FaustEvent()
    await n.handle(again, offer_to(world, "private-driver"), 3)
    assert deliverer.deliveries[-1].delivery_id == moved_delivery.delivery_id
    await n._delivered(deliverer.deliveries[-1], 0.1)
    assert again.acks == 1


async def test_an_event_withdrawn_while_its_pushes_are_submitted_is_withdrawn_whole() -> None:
    world, n, deliverer = withdrawing_notifier()
    record = FaustEvent()
    deliverer.during_submit = lambda: n.withdraw_moved(frozenset())
    await n.handle(record, offer_to(world, "private-driver"), 3)
    [delivery] = deliverer.deliveries
    assert delivery.delivery_id in deliverer.withdrawn and not n._pending


async def test_an_early_push_of_a_partition_assigned_elsewhere_is_left_to_its_record() -> None:
    world, n, deliverer = withdrawing_notifier()
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))  # type: ignore[arg-type]
    agent.hand_over([(3, offer_to(world, "private-driver")), (5, offer_to(world, "second-driver"))])
    agent.on_assigned(frozenset({5}))  # partition 3 moved before the early push began
    task = asyncio.create_task(agent.push_early())
    async with asyncio.timeout(5):
        while not deliverer.deliveries:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    task.cancel()
    assert [d.data["helper_id"] for d in deliverer.deliveries] == ["second-driver"]
    assert n.early_pushed == 1 and len(n._pending) == 1


async def test_an_event_planned_again_before_its_old_push_resumes_keeps_its_deliveries() -> None:
    """Withdrawn during its submit loop, then planned again (its partition back) before the
    loop resumes: the old loop leaves the new plan's deliveries (the same ids) alone, or the
    event would wait for pushes no one sends and hold its partition's commit."""
    world, n, deliverer = withdrawing_notifier()
    key = offer_to(world, "private-driver").event_id

    def moved_and_back() -> None:
        n.withdraw_moved(frozenset())
        deliverer.withdrawn.clear()
        n._pending[key] = notify._Held({"planned-again"}, [], partition=3)

    deliverer.during_submit = moved_and_back
    await n.handle(FaustEvent(), offer_to(world, "private-driver"), 3)
    assert deliverer.withdrawn == set() and n._pending[key].remaining == {"planned-again"}

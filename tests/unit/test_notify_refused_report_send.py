"""A wave's report of an unreachable helper, refused once by Kafka, holds its event until a
retry sends it, and the wave's reachable offers are pushed meanwhile (streams/notify.py
`_push`). Kafka is a fake here (a send that raises once).

Review finding: `_push` awaited the report's send unguarded; a refusal raised out of it, the
notify agent dead-lettered and acknowledged the record, so none of the wave's deliverable
offers was pushed, and the report stayed queued with no task to retry it.
"""

from __future__ import annotations

from schemas.commands import Command
from streams.batch_ack import BatchAck
from streams.dead_letter import DeadLetterSink
from streams.notify import Notifier, NotifyAgent
from streams.runtime import Stats
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, planner, registry
from tests.unit.test_worker_notify import (
    FakeClock,
    FaustEvent,
    Submitted,
    Topic,
    offer_to,
    offered_world,
)


class Record(FaustEvent):
    """A record of `events` as Faust hands it over (its position, for a dead letter)."""

    def __init__(self) -> None:
        super().__init__()
        self.message = self
        self.topic, self.partition, self.offset, self.key, self.value = "events", 0, 5, b"c", b""


def refusing_once_over(world: World) -> tuple[Notifier, list[Command], Submitted]:
    """A notifier over `world` whose first command send Kafka refuses; what it sent."""
    sent: list[Command] = []
    refused = [TimeoutError("KafkaTimeoutError: metadata")]

    async def send_command(command: Command) -> None:
        if refused:
            raise refused.pop()
        sent.append(command)

    n = Notifier(planner(world, registry(*ROBOTS)), send_command, FakeClock())
    submitted = Submitted()
    n._deliverer = submitted  # type: ignore[assignment]
    return n, sent, submitted


async def test_a_waves_offers_are_pushed_though_its_report_send_was_refused() -> None:
    world = offered_world()
    [wave] = [e for e in world.events if e.body.type == "offers_sent"]
    n, sent, submitted = refusing_once_over(world)
    topic, stats = Topic(), Stats()
    agent = NotifyAgent(n, DeadLetterSink(topic, stats, FakeClock()))
    record = Record()
    [part] = BatchAck.parts(record, 1)
    await agent._handle_event(record, part, wave)
    assert [d.data["helper_id"] for d in submitted.deliveries] == ["private-driver"]
    assert stats.dead_letters == 0 and record.acks == 0  # held for the report and the push
    assert n._retrying is not None
    await n._retrying  # its first wait is 1 s: the report goes
    assert [c.body.type for c in sent] == ["delivery_failed"] and not n._unreachable
    assert record.acks == 0  # the push is not settled yet
    await n._delivered(submitted.deliveries[0], 0.1)
    assert record.acks == 1 and not n._pending


async def test_an_event_with_only_a_report_is_acked_once_the_report_is_sent() -> None:
    world = offered_world()
    n, sent, submitted = refusing_once_over(world)
    record = FaustEvent()
    await n.handle(record, offer_to(world, "lost-driver"))  # raises nothing
    assert record.acks == 0 and len(n._unreachable) == 1  # a crash now plans it again
    assert n._retrying is not None
    await n._retrying
    assert [c.body.type for c in sent] == ["delivery_failed"]
    assert record.acks == 1 and not n._pending and submitted.deliveries == []

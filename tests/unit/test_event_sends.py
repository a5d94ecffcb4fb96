"""The dispatch agent's `events` records straight to aiokafka (streams/event_sends.py), with
aiokafka's producer stood in for by one that keeps what it is given: the record goes as it
is (no partition, timestamp or headers of its own: the producer's partitioner decides, as
for Faust's send), the sensors count it as Faust's path does, and the caller gets the
acknowledgement's future, failures included (the agent awaits it). On the real broker, the
records are Faust's own: tests/integration/test_event_sends.py."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.sensors.monitor import Monitor

from streams.event_sends import EventsSender


class Producer:
    """aiokafka's `send` as far as the sender uses it: the record in, its future out."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, Any], asyncio.Future[Any]]] = []

    async def send(self, topic: str, value: bytes, **kwargs: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, value, kwargs, future))
        return future


def world() -> tuple[EventsSender, Producer, Monitor]:
    app = faust.App("t", broker="kafka://127.0.0.1:1", store="memory://")
    producer = Producer()
    app.producer._producer = producer  # what `_ensure_producer` hands out
    monitor = Monitor()
    app.sensors.add(monitor)
    return EventsSender(app, "events"), producer, monitor


async def test_a_record_goes_as_it_is_and_is_counted_when_acknowledged() -> None:
    sender, producer, monitor = world()
    future = await sender.send(key=b"r1", value=b'{"events":[]}')
    [(topic, value, kwargs, sent)] = producer.sent
    assert (topic, value, kwargs) == ("events", b'{"events":[]}', {"key": b"r1"})
    assert future is sent
    assert monitor.messages_sent_by_topic["events"] == 1
    assert len(monitor.send_latency) == 0
    tp = TopicPartition("events", 5)
    sent.set_result(RecordMetadata("events", 5, tp, 7, -1, 0, 0))
    await asyncio.sleep(0)  # the done callback
    assert len(monitor.send_latency) == 1 and monitor.send_errors == 0


@pytest.mark.parametrize("how", ["refused", "cancelled"])
async def test_a_record_kafka_did_not_take_is_counted_and_reaches_the_caller(how: str) -> None:
    sender, _, monitor = world()
    future = await sender.send(key=b"r1", value=b"v")
    if how == "refused":
        future.set_exception(RuntimeError("MessageSizeTooLarge"))
    else:
        future.cancel()
    await asyncio.sleep(0)
    assert monitor.send_errors == 1 and len(monitor.send_latency) == 0
    with pytest.raises(RuntimeError if how == "refused" else asyncio.CancelledError):
        await future

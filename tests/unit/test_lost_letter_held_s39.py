"""The dead letter of records lost to retention is never dropped (streams/faust_consumer.py).

Before session 39 the consumer gave the letter 10 s (`asyncio.wait_for`): a broker away
longer (a produce then waits out the producer's request timeout) had the send cancelled and
the letter dropped, with only the critical line and the counter left, and reading and
committing went on past the range, so no restart would find the loss again. Now the letter
is sent on in the background (the sink's tries, then exit 75) and the partition's commit is
held until Kafka acknowledged it: a worker that stops or exits first finds the loss again
at its next start, its committed offset still below the log start.

Here the dead-letter topic is the test's: each send's acknowledgement is settled by the test
(a failure as aiokafka's after its request timeout, then success), so nothing waits on the
clock.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams import faust_consumer
from streams.dead_letter import DeadLetterSink
from streams.runtime import Stats
from tests.unit.test_offsets_retention_f5 import (
    EVENTS,
    Broker,
    Clock,
    broker,
    consumer_at,
    lost_count,
    poll,
)

__all__ = ["broker"]  # the fixture


class AwayTopic:
    """The dead-letter topic of a broker that is away: every send's acknowledgement waits
    for the test, which takes each from `sends` in order."""

    def __init__(self) -> None:
        self.sends: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self.values: list[bytes] = []

    async def send(self, key: str | None, value: bytes) -> asyncio.Future[None]:
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.values.append(value)
        self.sends.put_nowait(acked)
        return acked


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> AwayTopic:
    # The broker stays away past the wait for the letter: reading goes on at once (the old
    # name had no such setting: its 10 s ran out, then the letter was cancelled).
    monkeypatch.setattr(faust_consumer, "LETTER_WAIT_SECONDS", 0.0, raising=False)
    return AwayTopic()


def consumer_lettering_to(broker: Broker, topic: AwayTopic) -> Any:
    """Committed at 2, the log starting at 6 (2..5 deleted), letters to `topic`."""
    consumer = consumer_at(broker, committed=2, holes=[])
    sink = DeadLetterSink(topic=topic, stats=Stats(), clock=Clock(), retry_delays=(0.0,) * 3)
    consumer.app = SimpleNamespace(dead_letter_sink=sink)
    consumer._acked = defaultdict(list)
    consumer._acked_index = defaultdict(set)
    return consumer


def ack(consumer: Any, *offsets: int) -> None:
    """What Faust's `ack` records when the agents acknowledge records."""
    consumer._acked[EVENTS].extend(offsets)
    consumer._acked_index[EVENTS].update(offsets)


async def test_a_lost_range_letter_the_broker_does_not_take_yet_is_sent_again_and_holds_the_commit(
    broker: Broker, topic: AwayTopic
) -> None:
    consumer = consumer_lettering_to(broker, topic)
    broker.next = [6, 7]
    assert await poll(consumer) == [6, 7]  # reading goes on while the letter waits
    ack(consumer, 6, 7)
    # Before session 39: 8, the letter cancelled and dropped, the loss never found again.
    assert consumer._new_offset(EVENTS) is None
    [sending] = consumer._lost_letters.values()

    first = await topic.sends.get()
    first.set_exception(KafkaTimeoutError())  # the broker away past the request timeout
    second = await topic.sends.get()  # sent again, not given up
    assert consumer._new_offset(EVENTS) is None
    second.set_result(None)  # the broker back: Kafka acknowledges the letter
    await sending

    assert consumer._new_offset(EVENTS) == 8  # the hold let go once the letter is in Kafka
    letters = [json.loads(v) for v in topic.values]
    assert {(x["source_topic"], x["partition"], x["offset"]) for x in letters} == {
        (EVENTS.topic, EVENTS.partition, 2)
    }
    assert letters[0]["reason"].startswith("lost to retention: offsets 2..5 (4 records)")
    assert consumer._lost_letters == {}


async def test_a_letter_cancelled_by_the_worker_stopping_keeps_the_commit_held(
    broker: Broker, topic: AwayTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = consumer_lettering_to(broker, topic)
    final_commits: list[int | None] = []

    async def upstream_on_stop(self: Any) -> None:  # Faust's last commit, at the stop
        final_commits.append(self._new_offset(EVENTS))

    monkeypatch.setattr(aiokafka_driver.Consumer, "on_stop", upstream_on_stop)
    broker.next = [6, 7]
    assert await poll(consumer) == [6, 7]
    ack(consumer, 6, 7)
    [sending] = consumer._lost_letters.values()
    await topic.sends.get()  # in flight, the broker away

    await consumer.on_stop()
    with pytest.raises(asyncio.CancelledError):
        await sending
    # Nothing past the range committed: the next start seeks below the log start again and
    # finds the loss again, and letters it then.
    assert final_commits == [None]
    assert consumer._new_offset(EVENTS) is None


async def test_a_loss_found_again_while_its_letter_is_in_flight_is_reported_once(
    broker: Broker, topic: AwayTopic
) -> None:
    consumer = consumer_lettering_to(broker, topic)
    before = lost_count()
    broker.next = [6, 7]
    assert await poll(consumer) == [6, 7]
    [sending] = consumer._lost_letters.values()
    first = await topic.sends.get()
    # A rebalance seeks back to the held commit: the same range is found lost again.
    consumer.guard.seeked({EVENTS: 2})
    assert await poll(consumer) == [6, 7]
    assert lost_count() - before == 4 and len(topic.values) == 1
    first.set_result(None)
    await sending
    assert consumer._lost_letters == {}

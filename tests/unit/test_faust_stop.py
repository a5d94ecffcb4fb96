"""streams/faust_stop.py: a stopping worker's bounded wait for the records its streams hold."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from dispatcher.settings import Settings
from streams.app import create_faust_app
from streams.faust_stop import wait_empty_bounded

LOG = logging.getLogger(__name__)


class Record:
    def __init__(self, topic: str) -> None:
        self.topic, self.partition, self.acked = topic, 3, False


class Consumer:
    """What upstream's wait uses: the set of unacknowledged records, polled until empty."""

    def __init__(self, *topics: str) -> None:
        self.records = [Record(t) for t in topics]
        self._unacked_messages = set(self.records)

    async def wait_empty(self) -> None:
        while self._unacked_messages:
            await asyncio.sleep(0.01)


async def test_records_still_unacknowledged_after_the_drain_time_are_released_unacknowledged() -> (
    None
):
    consumer = Consumer("events", "events")
    await asyncio.wait_for(
        wait_empty_bounded(consumer, consumer.wait_empty, 0.05, frozenset({"events"})), 5
    )
    assert not consumer._unacked_messages
    assert not any(r.acked for r in consumer.records)  # never acknowledged: never committed


async def test_records_of_topics_whose_commits_could_pass_them_are_still_waited_for() -> None:
    consumer = Consumer("events", "other")
    waiting = asyncio.ensure_future(
        wait_empty_bounded(consumer, consumer.wait_empty, 0.05, frozenset({"events"}))
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert [r.topic for r in consumer._unacked_messages] == ["other"]
    consumer._unacked_messages.clear()  # acknowledged at last
    await asyncio.wait_for(waiting, 5)


async def test_only_a_stopping_app_bounds_the_wait_a_rebalance_keeps_upstreams(
    tmp_path: Path,
) -> None:
    app = create_faust_app(Settings(data_dir=tmp_path), "stop")
    app.stop_drain_seconds = 0.05
    events = next(iter(app.contiguous_topics))

    rebalance = Consumer(events)
    waiting = asyncio.ensure_future(app._consumer_wait_empty(rebalance, LOG))
    await asyncio.sleep(0.3)
    assert not waiting.done() and rebalance._unacked_messages  # not released
    rebalance._unacked_messages.clear()
    await asyncio.wait_for(waiting, 5)

    app._stopped.set()  # the app's stop has begun (mode sets it before on_stop)
    stopping = Consumer(events)
    await asyncio.wait_for(app._consumer_wait_empty(stopping, LOG), 5)
    assert not stopping._unacked_messages

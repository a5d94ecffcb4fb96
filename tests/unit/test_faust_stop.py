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


async def test_a_rebalance_waits_for_commands_and_lets_records_held_by_pushes_go(
    tmp_path: Path,
) -> None:
    """A command being decided is waited for (its next owner must not decide it too); an
    `events` record, held only by its pushes, is let go after the rebalance drain time, or a
    slow receiver would hold the whole group in the revoke (session 33)."""
    settings = Settings(data_dir=tmp_path)
    app = create_faust_app(settings, "stop")
    app.rebalance_drain_seconds = 0.05
    commands, events = settings.commands_topic, settings.events_topic
    assert app.push_topics == {events} and app.contiguous_topics == {commands, events}

    deciding = Consumer(commands, events)
    waiting = asyncio.ensure_future(app._consumer_wait_empty(deciding, LOG))

    async def events_let_go() -> None:
        while len(deciding._unacked_messages) > 1:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(events_let_go(), 5)
    await asyncio.sleep(0.1)  # the wait goes on: the command is still held
    assert not waiting.done()
    assert [r.topic for r in deciding._unacked_messages] == [commands]
    assert not any(r.acked for r in deciding.records)  # never acknowledged: never committed
    deciding._unacked_messages.clear()  # the command decided
    await asyncio.wait_for(waiting, 5)

    pushing = Consumer(events, events)
    await asyncio.wait_for(app._consumer_wait_empty(pushing, LOG), 5)
    assert not pushing._unacked_messages


async def test_a_stopping_app_lets_every_contiguous_record_go(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_faust_app(settings, "stop")
    app.stop_drain_seconds = 0.05
    app._stopped.set()  # the app's stop has begun (mode sets it before on_stop)
    stopping = Consumer(settings.commands_topic, settings.events_topic)
    await asyncio.wait_for(app._consumer_wait_empty(stopping, LOG), 5)
    assert not stopping._unacked_messages

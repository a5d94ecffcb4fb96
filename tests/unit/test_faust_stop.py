"""streams/faust_stop.py: a stopping worker's bounded wait for the records its streams hold."""

from __future__ import annotations

import asyncio

from streams.faust_stop import wait_empty_bounded


async def test_a_stopping_app_lets_go_of_records_after_the_drain_time() -> None:
    """Records still unacknowledged after the drain time are released, not acknowledged (so
    never committed), and upstream's wait ends."""

    class Record:
        acked = False
        topic, partition = "events", 3

    class Consumer:
        def __init__(self) -> None:
            self.waiting = [Record(), Record()]
            self._unacked_messages = set(self.waiting)

        async def wait_empty(self) -> None:  # upstream's loop, in short
            while self._unacked_messages:
                await asyncio.sleep(0.01)

    consumer = Consumer()
    await asyncio.wait_for(wait_empty_bounded(consumer, consumer.wait_empty, 0.05), 5)
    assert not consumer._unacked_messages
    assert not any(r.acked for r in consumer.waiting)  # released, not acknowledged

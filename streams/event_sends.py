"""The dispatch agent's `events` records, sent straight to aiokafka (issue 18).

`topic.send(key=, value=)` on a Faust topic goes `Channel._send_now` → `as_future_message`
(a `FutureMessage` and its `PendingMessage`) → `Topic.publish_message` (the producer looked
up, the sensors told, a done-callback partial) → aiokafka: ~2 % of the worker's CPU at 400
requests/s beside aiokafka's own work (py-spy, docs/performance-log.md session 24), for a
record whose bytes are already made. `EventsSender.send` hands the same record (topic, key,
value; partition, timestamp and headers left to aiokafka, as Faust leaves them) to the same
aiokafka producer, whose partitioner (the app's `producer_partitioner`) picks the same
partition, and tells the sensors what Faust tells them, as streams/changelog_writes.py does
for the tables. It returns aiokafka's future of the acknowledgement, which the agent awaits.

The records linger in the producer's batch until `send_now` (streams/faust_producer.py) lets
them go: the agent calls it once a decision's (or a group's) records are all added.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any


class EventsSender:
    def __init__(self, app: Any, topic: str) -> None:
        self.app = app
        self.topic = topic

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """The record added to the producer's batch; the future of its acknowledgement."""
        faust_producer = self.app.producer
        state = self.app.sensors.on_send_initiated(
            faust_producer, self.topic, message=None, keysize=len(key), valsize=len(value)
        )
        sent: asyncio.Future[Any] = await faust_producer._ensure_producer().send(
            self.topic, value, key=key
        )
        sent.add_done_callback(partial(self._acknowledged, state))
        return sent

    def _acknowledged(self, state: Any, sent: asyncio.Future[Any]) -> None:
        sensors, producer = self.app.sensors, self.app.producer
        if sent.cancelled():
            sensors.on_send_error(producer, asyncio.CancelledError(), state)
        elif (exc := sent.exception()) is not None:
            sensors.on_send_error(producer, exc, state)  # the agent awaits it and handles it
        else:
            sensors.on_send_completed(producer, state, sent.result())

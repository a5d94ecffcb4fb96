"""The commands already waiting for the dispatch agent, taken as one group.

Faust hands an agent one record at a time, so the dispatch agent used to await one events
send per command while the next commands waited in its queue. `take_ready` yields every event
already received (at least one, at most `max_`) and never waits for more to arrive: a lone
command is yielded at once, so latency at a low rate does not grow.

It reads the stream the way Faust's own `Stream.take_events` does (a processor fills a buffer
while the stream is drained in the background, acks disabled), but wakes on the first event
instead of waiting for a full buffer or a timeout. Nothing here acknowledges an event: the
agent acks each one once its table records are written, so its offset is never committed
before (the contiguous consumer commits only up to the first unacknowledged offset). The
Faust sources this relies on are pinned by tests/unit/test_faust_pins.py.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from faust import streams as faust_streams


async def take_ready(stream: Any, max_: int) -> AsyncIterator[list[Any]]:
    """Yield lists of the events waiting on `stream` (1 ≤ len ≤ max_), in arrival order."""
    buffer: list[Any] = []
    ready = asyncio.Event()  # the buffer holds at least one event
    room = asyncio.Event()  # the buffer holds fewer than max_
    room.set()

    async def add_to_buffer(value: Any) -> Any:
        event = stream.current_event
        if event is None:
            raise RuntimeError("take_ready found no current event")
        buffer.append(event)
        ready.set()
        if len(buffer) >= max_:
            room.clear()
            await stream.wait(room)  # back-pressure: the drainer reads no further
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False  # acked by the agent, once processed
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            if not buffer:  # under load it rarely is: no wait (mode's costs two tasks)
                await stream.wait_for_stopped(ready)
                if not buffer:
                    continue
            group = buffer[:]
            buffer.clear()
            ready.clear()
            room.set()
            yield group
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)


def set_current_event(event: Any) -> None:
    """Make `event` the one Faust's tables write for: a table write goes to the changelog
    partition of `faust.streams.current_event()`, which the stream sets only in the task
    that drains it, and a group holds records of several partitions."""
    faust_streams._current_event.set(weakref.ref(event))


class _StandIn:
    """An event as far as a table write reads it (weak-referenceable)."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


@contextmanager
def writing_for(topic: str, partition: int) -> Iterator[None]:
    """Table reads and writes inside go to `partition`'s store and changelog, whatever the
    current event: for a record handled outside its own command (the dispatch agent's
    pruning of every owned partition's requests). The current event is restored after."""
    stand_in = _StandIn(topic, partition)
    with _current(weakref.ref(stand_in)):
        yield


@contextmanager
def reading_any_partition() -> Iterator[None]:
    """Table reads inside find a key in whichever partition's store holds it (Faust's
    RocksDB store looks only in the current event's partition when there is one)."""
    with _current(None):
        yield


@contextmanager
def _current(ref: Any) -> Iterator[None]:
    token = faust_streams._current_event.set(ref)
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)

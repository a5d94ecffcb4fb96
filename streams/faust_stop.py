"""Stopping a worker whose streams still hold records: wait a bounded time, then let them go.

Faust (faust-streaming 0.15.3) stops the fetcher and the agents' flow, clears the agents'
queues and then waits (`Consumer.wait_empty`, `stream_wait_empty=True`) until every record
handed to a stream is acknowledged or garbage (its set of unacknowledged records is weak). With
a backlog that wait need never end: records are still referenced by the conductor's batch that
waited on a full queue and by the notify agent's deliveries still pending (`streams/batch_ack.py`),
so a SIGTERMed worker waited until it was killed. Here, at stop only, the records still
unacknowledged after `stop_drain_seconds` are let go: not acknowledged, so never committed
(`streams/faust_consumer.py` commits only up to the first unacknowledged offset), and the
partition's next owner reads them again, as after a crash. A rebalance keeps upstream's wait:
the records' new owner must not process them while this worker still does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


def release_in_flight(consumer: Any, contiguous_topics: frozenset[str]) -> int:
    """Let go of the records the consumer still waits for; how many there were.

    Only records of the contiguous topics: their commits never pass an unacknowledged offset.
    On any other topic upstream's commit could pass a released record, so those stay
    waited for (none today: the streams read only `commands` and `events`)."""
    unacked = consumer._unacked_messages  # faust's WeakSet; pinned by tests/unit/test_faust_pins.py
    waiting = [m for m in list(unacked) if not m.acked]
    released = [m for m in waiting if m.topic in contiguous_topics]
    if released:
        where = Counter(f"{m.topic}[{m.partition}]" for m in released)
        log.warning(
            "stopping with %d records still in flight (%s): not acknowledged, so not "
            "committed; the partition's next owner reads them again",
            len(released),
            ", ".join(f"{tp} {n}" for tp, n in sorted(where.items())),
        )
    kept = len(waiting) - len(released)
    if kept:
        log.error("%d unacknowledged records of other topics: still waited for", kept)
    for m in released:
        unacked.discard(m)
    return len(released)


async def wait_empty_bounded(
    consumer: Any,
    wait_empty: Callable[[], Awaitable[None]],
    seconds: float,
    contiguous_topics: frozenset[str],
) -> None:
    """Run upstream's wait; after `seconds`, release what it still waits for."""
    handle = asyncio.get_running_loop().call_later(
        seconds, release_in_flight, consumer, contiguous_topics
    )
    try:
        await wait_empty()
    finally:
        handle.cancel()

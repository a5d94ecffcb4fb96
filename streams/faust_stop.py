"""Stopping a worker whose streams still hold records: wait a bounded time, then let them go.

Faust (faust-streaming 0.15.3) stops the fetcher and the agents' flow, clears the agents'
queues and then waits (`Consumer.wait_empty`, `stream_wait_empty=True`) until every record
handed to a stream is acknowledged or garbage (its set of unacknowledged records is weak). With
a backlog that wait need never end: records are still referenced by the conductor's batch that
waited on a full queue and by the notify agent's deliveries still pending (`streams/batch_ack.py`),
so a SIGTERMed worker waited until it was killed. Here, at stop only, the records still
unacknowledged after `stop_drain_seconds` are let go: not acknowledged, so never committed
(`streams/faust_consumer.py` commits only up to the first unacknowledged offset), and the
partition's next owner reads them again, as after a crash.

A rebalance waits as upstream does for the dispatch agent's commands (their new owner must not
decide them while this worker still does), but only the app's `rebalance_drain_seconds` (1 s)
for the notify agent's `events` records: a record is acknowledged only once its pushes have
settled, and behind a slow receiver the pushes queued in this worker take minutes to drain.
Upstream's wait held the member in its revoke callback for all that time, and the whole group
with it: every partition unserved, the survivor of a dead worker serving nothing, and after the
broker's rebalance timeout (60 s) the waiting member expelled, to rejoin and stall the next
generation in turn (session 33: 3 minutes without a served command at 20 requests/s with pushes
answered after 2-5 s). Released, such a record is not acknowledged, so never committed; its
pushes go on here. If this worker keeps the partition it reads the record again and the notify
agent joins it to the same pending pushes (nothing is pushed twice); if the partition moves,
its new owner pushes the record's deliveries again with the same delivery ids, as after a
crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


def release_in_flight(
    consumer: Any, contiguous_topics: frozenset[str], rebalance: bool = False
) -> int:
    """Let go of the records the consumer still waits for; how many there were.

    Only records of `contiguous_topics`: their commits never pass an unacknowledged offset.
    On any other topic upstream's commit could pass a released record, so those stay
    waited for (at stop none today: the streams read only `commands` and `events`; at a
    rebalance the commands the dispatch agent is deciding)."""
    unacked = consumer._unacked_messages  # faust's WeakSet; pinned by tests/unit/test_faust_pins.py
    waiting = [m for m in list(unacked) if not m.acked]
    released = [m for m in waiting if m.topic in contiguous_topics]
    if released:
        where = ", ".join(
            f"{tp} {n}"
            for tp, n in sorted(Counter(f"{m.topic}[{m.partition}]" for m in released).items())
        )
        if rebalance:
            log.warning(
                "rebalance: %d records whose pushes are still in flight let go (%s): not "
                "acknowledged, so not committed; their pushes go on, the partition's owner "
                "after the rebalance reads them again",
                len(released),
                where,
            )
        else:
            log.warning(
                "stopping with %d records still in flight (%s): not acknowledged, so not "
                "committed; the partition's next owner reads them again",
                len(released),
                where,
            )
    kept = len(waiting) - len(released)
    if kept and not rebalance:
        log.error("%d unacknowledged records of other topics: still waited for", kept)
    for m in released:
        unacked.discard(m)
    return len(released)


async def wait_empty_bounded(
    consumer: Any,
    wait_empty: Callable[[], Awaitable[None]],
    seconds: float,
    contiguous_topics: frozenset[str],
    rebalance: bool = False,
) -> None:
    """Run upstream's wait; after `seconds`, release what it still waits for of
    `contiguous_topics`."""
    handle = asyncio.get_running_loop().call_later(
        seconds, release_in_flight, consumer, contiguous_topics, rebalance
    )
    try:
        await wait_empty()
    finally:
        handle.cancel()

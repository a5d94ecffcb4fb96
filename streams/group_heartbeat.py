"""A consumer keeps heartbeating while its partition-assignment callback runs (aiokafka 0.14.0).

aiokafka stops a member's heartbeat task for a rejoin and starts it again only once
`_do_rejoin_group` has returned, that is after the rebalance listener's
`on_partitions_assigned` has run. The broker starts the member's session clock when it hands
out the assignment (SyncGroup), so a callback that lasts longer than the session timeout gets
the member evicted right after it was given its partitions. Faust's callback opens the RocksDB
partitions, rebuilds the channel index and signals recovery; on a loaded machine it took 12 s
against our 10 s session: the survivor of a SIGKILL was evicted ("member_id was not
recognized"), rejoined, ran the callback again, and took over after 50 s instead of 15 s; a
callback slower every time is a survivor that never serves the dead worker's partitions.

The Java client heartbeats from a background thread during the callbacks too (KIP-62); here
the heartbeat task starts as soon as the join has succeeded, before the callback. The task
stops, as upstream, when the next rejoin begins (`ensure_active_group`), and a heartbeat that
meets a rebalance only requests the next rejoin. Faust runs the callback on its own event loop,
not aiokafka's thread, so the heartbeats go on however busy the worker's loop is.

A callback that hangs (a store that never opens) must not keep its partitions for ever
because its heartbeats go on: after `HUNG_CALLBACK_SESSIONS` session timeouts the heartbeats
stop, the broker evicts the member and hands its partitions to another (as upstream would
have after one session), and if the callback ever returns the heartbeats start again, learn
of the eviction and rejoin.

The overridden aiokafka sources are pinned by `tests/unit/test_group_heartbeat.py`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiokafka.consumer.consumer as aiokafka_consumer
from aiokafka.consumer.group_coordinator import GroupCoordinator

log = logging.getLogger(__name__)

# The slowest callback seen was 12 s (1.2 sessions) under a load average of 30.
HUNG_CALLBACK_SESSIONS = 6


class HeartbeatingGroupCoordinator(GroupCoordinator):  # type: ignore[misc]
    async def _on_join_complete(
        self, generation: int, member_id: str, protocol: str, member_assignment_bytes: bytes
    ) -> None:
        # Joined: the broker counts the session from now, the callback below may be long.
        self._start_heartbeat_task()
        limit = HUNG_CALLBACK_SESSIONS * self._session_timeout_ms / 1000
        hung = asyncio.get_running_loop().call_later(limit, self._stop_heartbeats_of_hung, limit)
        try:
            await super()._on_join_complete(
                generation, member_id, protocol, member_assignment_bytes
            )
        finally:
            hung.cancel()

    def _stop_heartbeats_of_hung(self, limit: float) -> None:
        log.error(
            "partition-assignment callback still running after %.0f s: heartbeats stop so "
            "that the group gives these partitions to another member",
            limit,
        )
        task, self._heartbeat_task = self._heartbeat_task, None  # restarted after the callback
        if task is not None:
            task.cancel()


def install() -> None:
    """Every aiokafka consumer started from now on in this process (the worker's Faust
    consumer, its record and config consumers) uses `HeartbeatingGroupCoordinator`."""
    module: Any = aiokafka_consumer
    module.GroupCoordinator = HeartbeatingGroupCoordinator

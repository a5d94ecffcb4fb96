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

The coordinator also keeps the member's **lease** (`streams/membership_lease.py`): when it sent
the last heartbeat answered as a member's, or began the join that succeeded; lost when the
broker no longer knows the member (`reset_generation`). The dispatch agent applies no command
while it is older than the session timeout.

The overridden aiokafka sources are pinned by `tests/unit/test_group_heartbeat.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiokafka.consumer.consumer as aiokafka_consumer
from aiokafka.consumer.group_coordinator import GroupCoordinator

from streams.membership_lease import MembershipLease

log = logging.getLogger(__name__)

# The slowest callback seen was 12 s (1.2 sessions) under a load average of 30.
HUNG_CALLBACK_SESSIONS = 6


class HeartbeatingGroupCoordinator(GroupCoordinator):  # type: ignore[misc]
    lease: MembershipLease
    #: When the latest rejoin began (`time.monotonic()`): the lease's start once it succeeded.
    _rejoin_sent_at: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease = MembershipLease(self._session_timeout_ms / 1000)

    async def _do_heartbeat(self) -> bool:
        # Sent now: the broker, if it answers as to a member, counts the session from later.
        sent_at = time.monotonic()
        ok = bool(await super()._do_heartbeat())
        # True also for a rebalance in progress: still a member, until it rejoins or the
        # rebalance times out.
        if ok:
            self.lease.confirm(sent_at)
        return ok

    def reset_generation(self) -> None:
        self.lease.lose()
        super().reset_generation()

    async def _do_rejoin_group(self, subscription: Any) -> bool:
        self._rejoin_sent_at = time.monotonic()
        return bool(await super()._do_rejoin_group(subscription))

    async def _on_join_complete(
        self, generation: int, member_id: str, protocol: str, member_assignment_bytes: bytes
    ) -> None:
        # Joined: the broker counts the session from now, the callback below may be long.
        if self._rejoin_sent_at is not None:
            self.lease.confirm(self._rejoin_sent_at)
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

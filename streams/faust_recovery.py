"""Faust's table recovery with the seek before the resume (the root fix for faust #596).

Upstream (faust-streaming 0.15.3, `faust/tables/recovery.py`) ends a recovery, and resumes
streams after a rebalance without tables, in this order: resume the stream partitions, await
the seek to the committed offsets, clear the agents' queues. While the seek's OffsetFetch is in
flight the fetcher delivers records of the just-resumed partitions from wherever the fetch
position was; the seek then moves the read offset back and the queues are cleared, and the next
stale record makes the consumer record a gap over records no agent processed. Here the seek
comes first, while the stream partitions are still paused, and nothing awaits between the
resume and the clearing of the queues. `streams/faust_consumer.py` also drops any record
fetched before a seek, so the two fixes hold each other up.

The copied methods are pinned against upstream's source by `tests/unit/test_faust_pins.py`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from time import monotonic
from typing import Any, cast

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from mode import Service

#: A worker whose current generation is not served this long says where it stands (every
#: STALL_REPORT_S), so a takeover that never happens explains itself in the worker's log.
STALL_REPORT_S = 30.0


def stall_report(app: Any, recovery: Any) -> str:
    """Where a worker stands in a rebalance: the group generation against the one whose
    tables are recovered and streams resumed, the recovery's state and what it still misses,
    the consumer's flow and partitions, the events still unacknowledged (what
    `wait_empty` waits for). Topic and partition numbers only: no record content."""
    consumer = app.consumer
    prefix = f"{app.conf.id}-"
    assigned = Counter(tp.topic.removeprefix(prefix) for tp in consumer.assignment())
    remaining = {
        f"{tp.topic.removeprefix(prefix)}[{tp.partition}]": n
        for tp, n in sorted(recovery.active_remaining().items())
        if n
    }
    return (
        f"generation {app.consumer_generation_id}, ready {recovery.ready_generation}, "
        f"rebalancing {app.rebalancing}, in recovery {recovery.in_recovery}, "
        f"recovery signalled {recovery.signal_recovery_start.is_set()}, "
        f"changelog records missing {remaining or 0}; consumer flow "
        f"{'on' if consumer.flow_active else 'off'}, queues "
        f"{'on' if app.flow_control.is_active() else 'off'}, assigned {dict(assigned)}, "
        f"paused {len(getattr(consumer, '_paused_partitions', ()))}, "
        f"unacked {len(getattr(consumer, '_unacked_messages', ()))}"
    )


class SeekFirstRecovery(Recovery):
    #: The consumer generation whose tables are fully recovered and whose streams resumed.
    #: Upstream's `completed` event is set once and never cleared, and `in_recovery` turns
    #: true only after the recovery task wakes up: between a rebalance and that moment both
    #: say "ready" while the tables lack the newly assigned partitions. The worker rebuilds
    #: its state only when this equals the current generation.
    ready_generation: int = -1
    #: The consumer's `assignment_token` for the rebalance whose recovery runs (or is next).
    _assignment_token: object | None = None
    _unready_since: float | None = None
    _reported_at: float = 0.0

    @Service.task
    async def _report_stalls(self) -> None:
        """Log `stall_report` while the current generation stays unserved."""
        while not self.should_stop:
            await self.sleep(STALL_REPORT_S / 3)
            app = self.app
            if not app.rebalancing and self.ready_generation == app.consumer_generation_id:
                self._unready_since = None
                continue
            now = monotonic()
            if self._unready_since is None:
                self._unready_since = now
            if now - self._unready_since >= STALL_REPORT_S <= now - self._reported_at:
                self._reported_at = now
                try:
                    report = stall_report(app, self)
                except Exception as exc:  # a diagnosis must never take the worker down
                    report = f"(no report: {type(exc).__name__})"
                self.log.warning(
                    "generation not served for %.0f s: %s", now - self._unready_since, report
                )

    async def on_rebalance(
        self,
        assigned: set[Any],
        revoked: set[Any],
        newly_assigned: set[Any],
        generation_id: int = 0,
    ) -> None:
        # Upstream records the generation for the next recovery round (unless this call is
        # already stale); the assignment object goes beside it: within the consumer's
        # `on_partitions_assigned`, whose token is this assignment's.
        if generation_id == self.app.consumer_generation_id:
            self._assignment_token = getattr(self.app.consumer, "assignment_token", None)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    async def _seek_then_resume_streams(self, generation_id: int) -> None:
        consumer = self.app.consumer
        assignment = consumer.assignment()
        if assignment:
            self.log.info("Seek stream partitions to committed offsets (before resuming them).")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        # No await from here to flow_control.resume(): nothing is delivered in between.
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        self.completed.set()
        self.app.flow_control.resume()
        consumer.resume_flow()
        await cast(Any, self.app)._fetcher.maybe_start()
        self.ready_generation = generation_id
        self._stop_fetching_changelogs(consumer, generation_id)

    def _stop_fetching_changelogs(self, consumer: Any, generation_id: int) -> None:
        """The changelog partitions Faust keeps paused once recovered (every active one: no
        standbys here) are not fetched again until the next rebalance: a fetch lists only the
        partitions the streams read (streams/faust_consumer.py `stop_fetching`). Done beside
        the recovery, not awaited by it: the recovery's own steps stay as they were."""
        if not hasattr(consumer, "stop_fetching"):
            return
        if self.signal_recovery_start.is_set():
            # A rebalance since this round began (same generation or not): the consumer's
            # assignment is the next round's, whose changelogs are not recovered yet.
            return
        paused: set[Any] = getattr(consumer, "_paused_partitions", set())
        changelogs = {tp for tp in consumer.assignment() if self._is_changelog_tp(tp)}
        # This round's assignment: the consumer pauses nothing once aiokafka's is another.
        token = self._assignment_token
        self.add_future(self._stop_fetching(consumer, changelogs & paused, generation_id, token))

    async def _stop_fetching(
        self, consumer: Any, tps: set[Any], generation_id: int, token: object
    ) -> None:
        try:
            count = await consumer.stop_fetching(tps, generation_id, token)
        except Exception as exc:  # fetching them costs CPU only: never fail the recovery
            self.log.warning("changelog partitions still fetched: %s: %s", type(exc).__name__, exc)
            return
        self.log.info("%s idle changelog partitions no longer fetched", count)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        app = self.app
        await app.on_rebalance_complete.send()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._seek_then_resume_streams(generation_id)
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callback_coros = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if callback_coros:
            await asyncio.wait(callback_coros)
        if self.app.consumer_generation_id != generation_id:
            self.log.warning(
                "Recovery rebalancing again app id %s param %s",
                self.app.consumer_generation_id,
                generation_id,
            )
            return
        await self._seek_then_resume_streams(generation_id)
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekFirstTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

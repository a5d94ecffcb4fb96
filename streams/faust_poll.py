"""Faust's poll of aiokafka that never drops records it took (the root fix of the takeover stall).

Faust's fetcher loop (`Consumer._drain_messages`) polls aiokafka from its consumer thread
(`AIOKafkaConsumerThread._fetch_records` → aiokafka `Fetcher.fetched_records`), with the set of
partitions it means to read. aiokafka 0.14.0 advances a partition's position when it hands the
records over; Faust 0.15.3 then drops the records it cannot deliver (its flow stopped by a
rebalance: "getmany called while flow not active", or the partition paused meanwhile) and
relies on a seek to the committed offsets to read them again. A changelog partition has no
committed offset: its position belongs to the table recovery, which seeks it once.

The stall: a poll in flight when the group rebalances is woken by a fetch response while the
rejoin is under way, and then waits inside `fetched_records` for the next assignment (it checks
`reassignment_in_progress` before it drains). It resumes with the new assignment, still holding
the partition set Faust passed it: Faust's live set, which the rebalance has emptied, and an
empty set means *every* partition to aiokafka. If it resumes after the recovery has sought the
newly assigned changelog partitions, it drains their records and hands them to a Faust whose
flow is still stopped: Faust drops them, aiokafka's positions stand past them, and the recovery
waits for ever for records that were fetched once ("No event received for active tp … since
recovery start"; `generation not served`: all of a dead worker's changelog records missing).

Here a poll reads only a copy of the partitions Faust meant at the time of the call (never
"every partition"), and a poll that outlived its assignment, or that returns while Faust's flow
is stopped, puts what it took back: in the consumer thread, right after the drain (no await in
between, so no seek can intervene), each partition is sought back to its first record drained.
`tests/integration/test_recovery_stale_poll.py` forces the interleaving on the real broker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as aiokafka_driver

log = logging.getLogger(__name__)


def current_assignment(client: Any) -> Any:
    """aiokafka's current `Assignment` object (a new one for every group assignment)."""
    subscription = client._subscription.subscription
    return None if subscription is None else subscription.assignment


def rewind(client: Any, records: Mapping[Any, Sequence[Any]]) -> int:
    """Seek each partition of `records` back to its first record (in the consumer thread, at
    once after they were drained from the same assignment); returns how many were."""
    state = client._subscription
    rewound = 0
    for tp, batch in records.items():
        if not batch or not state.is_assigned(tp):
            continue
        try:
            client._fetcher.seek_to(tp, batch[0].offset)
        except IllegalStateError:  # pragma: no cover - checked just above, same thread
            continue
        rewound += 1
    return rewound


class SnapshotPollThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, whose polls hand over only records Faust can take,
    and whose fetches the broker holds for the app's `fetch_max_wait_ms`, not Faust's 1.5 s."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        # aiokafka keeps one fetch in flight per broker and leaves out of it the partitions
        # whose records are still buffered. Once the agent has taken those, their new records
        # wait for the fetch in flight, which the broker holds up to this long when its other
        # partitions stay empty: measured as 0.4-1.4 s without a command taken under load
        # (docs/performance-log.md, session 11). The consumer reads it in start(), after this.
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Any,
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        if active_partitions is not None and not active_partitions:
            return {}  # aiokafka would read an empty set as every partition (None: client only)
        assignment = current_assignment(consumer)
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        if not records:
            return records
        stale = current_assignment(consumer) is not assignment
        if not stale and self.consumer.flow_active:
            return records
        # No await since the drain: the positions are the ones it left.
        count = rewind(consumer, records)
        log.info(
            "a poll %s: %s partitions sought back to their first record not delivered",
            "outlived its assignment" if stale else "returned while the flow was stopped",
            count,
        )
        return {}

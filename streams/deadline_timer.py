"""The deadline timer: due deadlines of this worker's partitions → `deadline_reached` commands.

Which deadlines are due, and when an unacknowledged one fires again, is the core's heap
(dispatcher/core/deadlines.py); this module only sends and reports back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2

from schemas.commands import deadline_command
from streams.runtime import WorkerRuntime

log = logging.getLogger(__name__)


def partition_for(community_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a community's key."""
    return (murmur2(community_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class DeadlineTimer:
    rt: WorkerRuntime

    def install(self) -> None:
        @self.rt.app.timer(self.rt.settings.deadline_tick_seconds, name="deadlines")
        async def deadlines() -> None:
            try:
                await self.fire()
            except Exception:  # a timer that raises is not rescheduled reliably: log and go on
                log.exception("deadline timer tick failed")

    async def fire(self) -> int:
        """Turn due deadlines of this worker's partitions into commands."""
        rt = self.rt
        if not rt.state_ready():
            return 0
        now = rt.clock.now()
        due = rt.state.pop_due(now)
        sent: list[Any] = []
        for item in due:
            if rt.trace.enabled:
                p = partition_for(item.community_id, rt.settings.topic_partitions)
                rt.trace.write(
                    "fire",
                    p=p,
                    r=item.request_id,
                    s=item.step,
                    due=item.due_at.timestamp(),
                    owned=rt.owned_since.get(p),
                    attempt=item.attempt,
                    restored=item.restored,
                )
            cmd = deadline_command(
                request_id=item.request_id,
                community_id=item.community_id,
                step=item.step,
                due_at=item.due_at,
            )
            try:
                sent.append(
                    await rt.commands.send(
                        key=item.community_id.encode(), value=cmd.model_dump_json().encode()
                    )
                )
            except Exception as exc:
                # Refused before it was queued (Faust's `ProducerSendError` for aiokafka's
                # metadata or full-buffer timeout): this item, like every other popped one,
                # must go back on the heap below, or its request never escalates.
                sent.append(_refused(exc))
        results = await asyncio.gather(*sent, return_exceptions=True)
        for item, result in zip(due, results, strict=True):
            ok = not isinstance(result, BaseException)
            if not ok:
                log.warning("deadline command not sent (%s): retrying", type(result).__name__)
            rt.state.heap.retry_later(item, now, acknowledged=ok)
        return len(due)


def _refused(exc: Exception) -> asyncio.Future[Any]:
    """A send refused outright, as the failed future `gather` reports like any other."""
    failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    failed.set_exception(exc)
    return failed

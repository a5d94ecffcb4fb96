"""The worker's timer and dispatch agent run at a chosen wall time, Kafka's commands topic in
memory: the deadline tests of session 39 and the late-command tests of session 41."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from dispatcher.core.deadlines import DeadlineHeap
from schemas.commands import Command


class CommandsTopic:
    """The commands topic: every send acknowledged, its value kept in order. Each
    acknowledgement names the record's place, as Kafka's does (partition 0, offsets from
    `next_offset`): the agent keeps where a request's copies went (streams/late_commands.py)."""

    def __init__(self, next_offset: int = 0) -> None:
        self.values: list[bytes] = []
        self.next_offset = next_offset

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        self.values.append(value)
        sent: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        sent.set_result(SimpleNamespace(partition=0, offset=self.next_offset))
        self.next_offset += 1
        return sent

    def taken(self) -> list[Command]:
        """The commands sent since last taken, in order."""
        out = [Command.model_validate_json(v) for v in self.values]
        self.values.clear()
        return out


def runtime_at(
    wall: datetime,
    heap: DeadlineHeap,
    requests: Any,
    commands: CommandsTopic | None,
    note_lateness: Callable[[float], object],
) -> Any:
    """What `DeadlineTimer` and `DispatchAgent._now` / `_late` read of the worker's runtime,
    its clock at `wall`."""
    return SimpleNamespace(
        state_ready=lambda: True,
        clock=SimpleNamespace(now=lambda: wall),
        state=SimpleNamespace(
            heap=heap,
            pop_due=lambda now: heap.pop_due(now, requests),
            core=SimpleNamespace(requests=requests),
            copies={},  # where copies about requests went (`DispatchAgent._late`)
        ),
        commands=commands,
        trace=SimpleNamespace(enabled=False),
        settings=SimpleNamespace(topic_partitions=8),
        stats=SimpleNamespace(note_lateness=note_lateness, reissued=0),
    )

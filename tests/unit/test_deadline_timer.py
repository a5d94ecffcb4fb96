"""The deadline timer's tick (streams/deadline_timer.py): every deadline it takes off the
heap goes back on it, whatever the commands topic's producer does with its send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from faust.exceptions import ProducerSendError

from dispatcher.core.deadlines import RETRY_FIRST_S, RETRY_MAX_S, DeadlineHeap, HeapItem
from streams.deadline_timer import DeadlineTimer

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=1)


class Commands:
    """The commands topic's `send`: the second call is refused before anything is queued
    (how Faust reports aiokafka's metadata or full-buffer timeout), the third is queued
    and then fails, the others are acknowledged."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.keys.append(key)
        if len(self.keys) == 2:
            raise ProducerSendError("Error while sending: KafkaTimeoutError()")
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(self.keys) == 3:
            sent.set_exception(ProducerSendError("broker went away"))
        else:
            sent.set_result(None)
        return sent


def test_a_send_refused_mid_tick_puts_every_popped_deadline_back() -> None:
    requests = {f"r{i}": SimpleNamespace(deadline_step=0, next_deadline=T0) for i in range(4)}
    heap = DeadlineHeap([HeapItem(T0, f"r{i}", 0, T0, "c1") for i in range(4)])
    commands = Commands()
    rt: Any = SimpleNamespace(
        state_ready=lambda: True,
        clock=SimpleNamespace(now=lambda: NOW),
        state=SimpleNamespace(heap=heap, pop_due=lambda now: heap.pop_due(now, requests)),
        commands=commands,
        trace=SimpleNamespace(enabled=False),
        settings=SimpleNamespace(topic_partitions=8),
    )

    fired = asyncio.run(DeadlineTimer(rt).fire())

    assert fired == 4
    assert len(commands.keys) == 4  # the refusal did not stop the others being sent
    back = {item.request_id: (item.fire_at - NOW).total_seconds() for item in heap.items}
    # Not sent (r1 refused, r2 failed): retried soon; acknowledged: checked again only late.
    assert back == {"r0": RETRY_MAX_S, "r1": RETRY_FIRST_S, "r2": RETRY_FIRST_S, "r3": RETRY_MAX_S}

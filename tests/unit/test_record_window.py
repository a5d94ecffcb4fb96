"""The record agent's batch window (streams/record_agent.py): a batch is recorded, then
committed, then the agent waits out the rest of `record_batch_wait_seconds` so that the next
fetch, transaction and commit carry a window's records; a full batch (a backlog) is followed by
the next poll at once. No Kafka here: the consumer is a scripted stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dispatcher.settings import Settings
from streams.dead_letter import DeadLetterSink
from streams.record_agent import RecordAgent
from streams.runtime import Stats
from tests.unit.test_worker_notify import FakeClock, Topic


class ScriptedConsumer:
    """Returns the scripted polls in turn, then stops the agent (CancelledError)."""

    def __init__(self, polls: list[list[str]], log: list[str]) -> None:
        self.polls, self.log = polls, log

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        if not self.polls:
            raise asyncio.CancelledError
        batch = self.polls.pop(0)
        self.log.append(f"poll {len(batch)}")
        return {"tp": batch} if batch else {}

    async def commit(self) -> None:
        self.log.append("commit")


class Agent(RecordAgent):
    log: list[str]

    async def record_batch(self, batch: list[Any]) -> None:
        self.log.append(f"record {len(batch)}")


def agent(log: list[str], now: list[float], batch_size: int = 3) -> Agent:
    topic, stats = Topic(), Stats()
    settings = Settings(record_batch_wait_seconds=0.05, record_batch_size=batch_size)

    async def sleep(seconds: float) -> None:
        log.append(f"sleep {seconds:.3f}")

    a = Agent(settings, stats, DeadLetterSink(topic, stats, FakeClock()), clock=lambda: now[0])
    a.sleep, a.log = sleep, log
    return a


async def test_a_batch_is_recorded_then_committed_then_the_window_waited_out() -> None:
    log: list[str] = []
    consumer = ScriptedConsumer([["a"], [], ["b", "c"]], log)
    with pytest.raises(asyncio.CancelledError):
        await agent(log, [10.0]).consume(consumer)
    assert log == [
        "poll 1",
        "record 1",
        "commit",
        "sleep 0.050",  # the next fetch gathers what comes meanwhile
        "poll 0",  # an empty poll: nothing recorded, committed or waited
        "poll 2",
        "record 2",
        "commit",
        "sleep 0.050",
    ]


async def test_a_full_batch_is_followed_by_the_next_poll_at_once() -> None:
    log: list[str] = []
    consumer = ScriptedConsumer([["a", "b", "c"], ["d"]], log)
    with pytest.raises(asyncio.CancelledError):
        await agent(log, [10.0], batch_size=3).consume(consumer)
    assert log == ["poll 3", "record 3", "commit", "poll 1", "record 1", "commit", "sleep 0.050"]

"""streams/faust_consumer.py `stop_fetching` and its caller in streams/faust_recovery.py: a
recovery pauses the fetch of its changelogs only in the assignment it recovered. The
generation alone does not name an assignment (a static member rejoining, or a follower of a
stable group, gets the same generation back with fresh partition states): aiokafka's
`Assignment` object does. Fakes stand in for aiokafka's client and Faust's app."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.tables.recovery import Recovery

from streams.faust_consumer import ContiguousConsumer
from streams.faust_recovery import SeekFirstRecovery

CHANGELOGS = {TopicPartition("x-helpers-changelog", 0), TopicPartition("x-helpers-changelog", 1)}
STREAM = TopicPartition("x.commands", 0)


class FakeClient:
    """What `_pause_fetching` reads of aiokafka's consumer, in the consumer thread."""

    def __init__(self, generation: int) -> None:
        self._coordinator = SimpleNamespace(generation=generation)
        self.paused: list[TopicPartition] = []
        self._subscription = SimpleNamespace(
            subscription=SimpleNamespace(assignment=object()),
            reassignment_in_progress=False,
            assigned_partitions=lambda: CHANGELOGS | {STREAM},
        )

    def reassign(self) -> None:
        """`Subscription._assign`: a new `Assignment` (fresh, unpaused states)."""
        self._subscription.subscription.assignment = object()

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.extend(tps)


def consumer_of(client: FakeClient) -> Any:
    consumer = ContiguousConsumer.__new__(ContiguousConsumer)
    consumer._thread = SimpleNamespace(_ensure_consumer=lambda: client)
    return consumer


def token(client: FakeClient) -> object:
    return client._subscription.subscription.assignment


async def test_the_recovered_assignment_stops_fetching_its_changelogs() -> None:
    client = FakeClient(generation=7)
    assert await consumer_of(client)._pause_fetching(set(CHANGELOGS), 7, token(client)) == 2
    assert set(client.paused) == CHANGELOGS


async def test_a_new_assignment_with_the_same_generation_is_not_paused() -> None:
    client = FakeClient(generation=7)
    recovered = token(client)
    client.reassign()  # same generation 7, a new Assignment, its changelogs not recovered
    assert await consumer_of(client)._pause_fetching(set(CHANGELOGS), 7, recovered) == 0
    assert client.paused == []


async def test_a_newer_generation_or_no_token_is_not_paused() -> None:
    client = FakeClient(generation=8)
    assert await consumer_of(client)._pause_fetching(set(CHANGELOGS), 7, token(client)) == 0
    client._coordinator.generation = 7
    assert await consumer_of(client)._pause_fetching(set(CHANGELOGS), 7, None) == 0
    assert client.paused == []


class FakeConsumer:
    def __init__(self) -> None:
        self.assignment_token: object = object()
        self._paused_partitions = set(CHANGELOGS)
        self.calls: list[tuple[set[Any], int, object]] = []

    def assignment(self) -> set[Any]:
        return CHANGELOGS | {STREAM}

    async def stop_fetching(self, tps: set[Any], generation_id: int, token: object) -> int:
        self.calls.append((tps, generation_id, token))
        return len(tps)


def recovery_of(consumer: FakeConsumer) -> Any:
    recovery: Any = SeekFirstRecovery.__new__(SeekFirstRecovery)
    recovery.app = SimpleNamespace(consumer=consumer, consumer_generation_id=7)
    recovery.tables = SimpleNamespace(changelog_topics={"x-helpers-changelog"})
    recovery.log = SimpleNamespace(info=lambda *a: None, warning=lambda *a: None)
    recovery._signal_recovery_start = asyncio.Event()
    futures: list[Any] = []
    recovery.add_future = futures.append
    recovery.futures = futures
    return recovery


async def run_futures(recovery: Any) -> None:
    for future in recovery.futures:
        await future


async def test_the_recovery_passes_the_assignment_it_was_started_for(monkeypatch: Any) -> None:
    consumer = FakeConsumer()
    recovery = recovery_of(consumer)
    recovered = consumer.assignment_token

    async def upstream(self: Any, *args: Any) -> None:
        self.signal_recovery_start.set()

    monkeypatch.setattr(Recovery, "on_rebalance", upstream)
    await recovery.on_rebalance(set(), set(), set(), 7)
    recovery.signal_recovery_start.clear()  # the round starts
    consumer.assignment_token = object()  # read only at the next on_partitions_assigned
    recovery._stop_fetching_changelogs(consumer, 7)
    await run_futures(recovery)
    assert consumer.calls == [(CHANGELOGS, 7, recovered)]


async def test_a_rebalance_during_the_round_stops_nothing() -> None:
    consumer = FakeConsumer()
    recovery = recovery_of(consumer)
    recovery._assignment_token = consumer.assignment_token
    # A same-generation rebalance while the round awaited: its on_rebalance set the signal
    # and Faust's assignment is already the new one.
    recovery.signal_recovery_start.set()
    recovery._stop_fetching_changelogs(consumer, 7)
    await run_futures(recovery)
    assert consumer.calls == []

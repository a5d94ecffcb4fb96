"""A member whose partition-assignment callback outlasts the session is not evicted
(streams/group_heartbeat.py), on the real broker: the survivor of a SIGKILL runs exactly such
a callback (Faust opening the new partitions' RocksDB stores) when it takes over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiokafka.consumer.consumer as aiokafka_consumer
from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.consumer.group_coordinator import GroupCoordinator

from dispatcher.testing.stack import LocalStack
from streams.group_heartbeat import HeartbeatingGroupCoordinator
from tests.support.waiting import eventually

SESSION_MS = 6000  # the broker's smallest (group.min.session.timeout.ms)


class SlowFirstAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """The first assignment's callback lasts 1.5 sessions; every call is counted."""

    def __init__(self) -> None:
        self.assigned = 0
        self.slow_done = asyncio.Event()

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.assigned += 1
        if self.assigned == 1:
            await asyncio.sleep(SESSION_MS / 1000 * 1.5)
            self.slow_done.set()


@asynccontextmanager
async def member(
    stack: LocalStack, coordinator: type, group: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, SlowFirstAssignment]]:
    """A member of a group of its own on the commands topic, polling, with `coordinator`."""
    listener = SlowFirstAssignment()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=f"{stack.app_id}-{group}",
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=1000,
        enable_auto_commit=False,
    )
    original = aiokafka_consumer.GroupCoordinator
    aiokafka_consumer.GroupCoordinator = coordinator
    try:
        consumer.subscribe([stack.topic("commands")], listener=listener)
        await consumer.start()
    finally:
        aiokafka_consumer.GroupCoordinator = original

    async def poll() -> None:
        while True:
            await consumer.getmany(timeout_ms=500)

    polling = asyncio.create_task(poll())
    try:
        yield consumer, listener
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await consumer.stop()


async def test_a_slow_assignment_callback_keeps_the_member(stack: LocalStack) -> None:
    async with member(stack, HeartbeatingGroupCoordinator, "fixed") as (consumer, listener):
        await asyncio.wait_for(listener.slow_done.wait(), timeout=120)
        assert consumer.assignment()  # an empty commit would prove nothing
        # Still the member it was when given the partitions, 1.5 sessions later: the broker
        # takes an offset commit only from a current member of the current generation (an
        # evicted one gets CommitFailedError, as upstream's coordinator does here).
        await consumer.commit({tp: 0 for tp in consumer.assignment()})
        assert listener.assigned == 1


async def test_without_the_fix_the_member_is_evicted(stack: LocalStack) -> None:
    """The bug, shown: upstream's coordinator sends no heartbeat during the callback, so the
    broker evicts the member and it has to join again (however long that takes)."""
    async with member(stack, GroupCoordinator, "upstream") as (_, listener):

        async def rejoined() -> bool:
            return listener.assigned > 1

        await eventually(rejoined, timeout=120, what="the evicted member to be assigned again")

"""A member whose partition-assignment callback outlasts the session is not evicted
(streams/group_heartbeat.py), on the real broker: the survivor of a SIGKILL runs exactly such
a callback (Faust opening the new partitions' RocksDB stores) when it takes over."""

from __future__ import annotations

import asyncio
import time

import aiokafka.consumer.consumer as aiokafka_consumer
from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.consumer.group_coordinator import GroupCoordinator

from dispatcher.testing.stack import LocalStack
from streams.group_heartbeat import HeartbeatingGroupCoordinator

SESSION_MS = 6000  # the broker's smallest (group.min.session.timeout.ms)


class SlowFirstAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """The first assignment's callback lasts 1.5 sessions; every call is counted."""

    def __init__(self) -> None:
        self.assigned: list[float] = []

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.assigned.append(time.monotonic())
        if len(self.assigned) == 1:
            await asyncio.sleep(SESSION_MS / 1000 * 1.5)


async def assignments_with(stack: LocalStack, coordinator: type, group: str) -> int:
    """How many times the member was given its partitions in 20 s: 1 if it stayed a member
    through the slow callback, more if the broker evicted it and it had to join again."""
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
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()
    return len(listener.assigned)


async def test_a_slow_assignment_callback_keeps_the_member(stack: LocalStack) -> None:
    assert await assignments_with(stack, HeartbeatingGroupCoordinator, "fixed") == 1


async def test_without_the_fix_the_member_is_evicted(stack: LocalStack) -> None:
    """The bug, shown: upstream's coordinator sends no heartbeat during the callback."""
    assert await assignments_with(stack, GroupCoordinator, "upstream") > 1

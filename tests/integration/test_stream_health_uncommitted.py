"""The stream-health lag of partitions a consumer group never committed on, read from the
real broker: a new group, or a partition nobody committed on, still has everything the
topic retains to read (every group starts at the earliest offset), so its lag is
end − log start and it is marked `no_commit`; before, such partitions were left out of
the chart altogether."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata

from dispatcher.ops.stream_health import StreamHealth
from dispatcher.testing.stack import LocalStack

NOBODY = "http://127.0.0.1:9"  # no worker runs here: the probe only says it is down


async def produce(stack: LocalStack, topic: str, partition: int, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, value=b"x%d" % i, partition=partition)
    finally:
        await producer.stop()


async def commit(stack: LocalStack, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def delete_before(stack: LocalStack, tp: TopicPartition, offset: int) -> None:
    """Move the partition's log start, as retention does."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset)})
    finally:
        await admin.close()


@pytest.fixture
async def health(stack: LocalStack) -> AsyncIterator[StreamHealth]:
    h = StreamHealth(stack.settings(worker_web_urls=[NOBODY]))
    try:
        yield h
    finally:
        await h.close()


async def test_uncommitted_partitions_lag_by_their_whole_retained_backlog(
    stack: LocalStack, health: StreamHealth
) -> None:
    commands = stack.topic("commands")
    p0, p1 = TopicPartition(commands, 0), TopicPartition(commands, 1)
    await produce(stack, commands, 0, 5)
    await produce(stack, commands, 1, 9)
    await delete_before(stack, p1, 3)  # partition 1 keeps offsets 3..8: a backlog of 6
    await commit(stack, stack.app_id, p0, 4)  # the workers' group: one record left on p0

    view = await health.view()
    rows: dict[tuple[str, str, int], dict[str, Any]] = {
        (r["group"], r["topic"], r["partition"]): r for r in view["lag"]
    }
    group = stack.app_id
    # Nobody committed on partition 1: all it retains (end 9 − log start 3) is backlog.
    assert (group, commands, 1) in rows, "the uncommitted partition is left out"
    assert rows[(group, commands, 1)] == {
        "group": group,
        "topic": commands,
        "partition": 1,
        "committed": None,
        "no_commit": True,
        "end": 9,
        "lag": 6,
    }
    assert rows[(group, commands, 0)] == {
        "group": group,
        "topic": commands,
        "partition": 0,
        "committed": 4,
        "no_commit": False,
        "end": 5,
        "lag": 1,
    }
    # Every partition of every group's topics is drawn, committed on or not: the record
    # agent's group has never committed anything here.
    events = stack.topic("events")
    for g, topics in health.groups.items():
        for topic in topics:
            for p in range(stack.partitions):
                assert (g, topic, p) in rows, (g, topic, p)
    record_rows = [r for (g, _, _), r in rows.items() if g == f"{group}-record"]
    assert record_rows and all(r["no_commit"] and r["topic"] == events for r in record_rows)
    assert all(r["lag"] == 0 for r in record_rows)  # nothing was written to events

"""How far a consumer group of the module's namespace is behind on a topic, read from the
real broker: the records after the group's committed offsets."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.testing.stack import LocalStack


async def uncommitted(stack: LocalStack, group: str, topic: str) -> int:
    """Records of `topic` (every partition) after `group`'s committed offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
        ends = await consumer.end_offsets(tps)
    finally:
        await admin.close()
        await consumer.stop()
    return sum(
        end - max(committed[tp].offset, 0) if tp in committed else end for tp, end in ends.items()
    )

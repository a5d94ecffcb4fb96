"""A record the worker waits for does not linger (streams/faust_producer.py), on the real
broker: with a linger far longer than the test, the prompt topic's record is acknowledged,
and a record of another topic sent before it still waits out its linger (aiokafka's own
producer) or rides along with it (the worker's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer

from dispatcher.testing.stack import LocalStack
from streams.faust_producer import PiggybackKafkaProducer, send_now

LINGER_MS = 120_000  # far beyond the test: only send_now can make a batch go


@asynccontextmanager
async def lingering_producer(
    stack: LocalStack, kind: type[AIOKafkaProducer] = AIOKafkaProducer
) -> AsyncIterator[AIOKafkaProducer]:
    producer = kind(bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=LINGER_MS)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_prompt_topic_record_goes_without_its_linger(stack: LocalStack) -> None:
    async with lingering_producer(stack) as producer:
        lingering = await producer.send(stack.topic("commands"), b"stays", key=b"a")
        prompt = await producer.send(stack.topic("events"), b"goes", key=b"a")
        send_now(producer, stack.topic("events"))
        meta = await asyncio.wait_for(prompt, timeout=30)
        assert meta.topic == stack.topic("events")
        # The other topic's batch was not ready, so the sender left it lingering.
        assert not lingering.done()
        send_now(producer, stack.topic("commands"))  # let stop() deliver it at once
        await asyncio.wait_for(lingering, timeout=30)


async def test_what_lingers_rides_along_with_a_prompt_record(stack: LocalStack) -> None:
    """The worker's producer (PiggybackKafkaProducer): a batch still lingering for the broker
    goes in the produce request of a ready one; then, with nothing ready, a new lingering record
    waits out its linger as before."""
    async with lingering_producer(stack, PiggybackKafkaProducer) as producer:
        table_record = await producer.send(stack.topic("commands"), b"rides", key=b"a")
        prompt = await producer.send(stack.topic("events"), b"goes", key=b"a")
        send_now(producer, stack.topic("events"))
        await asyncio.wait_for(prompt, timeout=30)
        # Acknowledged with the prompt one, long before its own 120 s linger.
        meta = await asyncio.wait_for(table_record, timeout=30)
        assert meta.topic == stack.topic("commands")
        later = await producer.send(stack.topic("commands"), b"stays", key=b"a")
        await asyncio.sleep(1)
        assert not later.done()  # nothing ready to ride along with
        send_now(producer, stack.topic("commands"))
        await asyncio.wait_for(later, timeout=30)

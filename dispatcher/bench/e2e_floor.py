"""The floor: a raw aiokafka produce → consume round trip on the same broker, with the
service's topic settings (same partition count, acks=all, idempotent producer, linger 0),
paced like the lowest e2e rate. No HTTP, no PostgreSQL, no Faust: what one Kafka hop costs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dispatcher.bench.e2e_stats import summarize


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def measure_floor(
    bootstrap: str,
    topic: str,
    partitions: int,
    count: int,
    rate: float,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await producer.start()
    await consumer.start()
    received: dict[int, float] = {}
    try:
        for _ in range(100):
            if consumer.partitions_for_topic(topic):
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)

        async def consume() -> None:
            while len(received) < count:
                batches = await consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for messages in batches.values():
                    for m in messages:
                        i = int(m.value)
                        if i >= 0:  # not the warm-up message
                            received.setdefault(i, now)

        reader = asyncio.create_task(consume())
        # warm-up: metadata, connections, the idempotent producer id
        await (await producer.send(topic, b"-1", key=b"warm"))
        sent: dict[int, float] = {}
        acks = []
        t0 = time.monotonic()
        for i in range(count):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key = f"bench-sq{i % 16:02d}".encode()  # spread over partitions like communities
            sent[i] = time.monotonic()
            acks.append(await producer.send(topic, str(i).encode(), key=key))
            if i % 200 == 0:
                progress(f"floor: {i}/{count} sent, {len(received)} received")
        await asyncio.gather(*acks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        await producer.stop()
        await consumer.stop()
    lat = [received[i] - t for i, t in sent.items() if i in received]
    out = summarize(lat)
    out.update(
        {
            "count": len(lat),
            "lost": count - len(lat),
            "offered_rate": rate,
            "rate": round(len(lat) / elapsed, 1) if elapsed > 0 else 0.0,
            "partitions": partitions,
        }
    )
    return out

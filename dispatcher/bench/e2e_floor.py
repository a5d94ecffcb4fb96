"""The floor: a raw aiokafka produce → consume round trip on the same broker, with the
service's topic settings (same partition count, acks=all, idempotent producer, linger 0).
No HTTP, no PostgreSQL, no Faust: what one Kafka hop costs.

Its p99 is the denominator of `e2e_p99_over_floor`, so it has to be stable. What made it
swing (docs/performance-log.md, 2026-12-02): (1) 300 samples in a quick run, so p99 was the
3rd-worst round trip, and the tail comes in stalls (a broker GC pause or a descheduled
process delays every record produced meanwhile: one 20 ms stall at 200/s is 4 records),
so p99 was decided by whether one stall fell in a 1.5 s window; (2) it started right after
the topic was created, with one warm-up record: partition leaders not yet in the clients'
metadata (a NotLeaderForPartition retry), cold segments and a broker that had not yet run
this path for this topic. Now: wait for every partition's leader, a warm-up that touches
every partition and is thrown away, then enough samples for p99 to be the 10th-worst or
later, and the p99 of each block of the run reported beside it so a swing shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dispatcher.bench.e2e_stats import summarize

BLOCKS = 4  # p99 per quarter of the run: they agree when the floor is stable

# A freshly started broker is slow for its first minute or so of traffic: its floor p99 read
# ~5.8 ms for the first ~45 s of round trips at 200/s and ~1.7 ms after ~70 s, just the same
# after a minute idle first, and no sooner at 1,000/s (docs/performance-log.md, session 21;
# the JVM settling as it runs the produce path). A run started right after `make stack-up`
# measured that cold floor, and its `e2e_p99_over_floor` read ×2–3 too good. So the floor's
# warm-up (thrown away) lasts `young_broker_warmup_s` for a broker younger than this.
YOUNG_BROKER_S = 300.0


def warmup_count(rate: float, broker_age_s: float | None, young_warmup_s: float) -> int | None:
    """The floor's warm-up round trips: None (measure_floor's default, a second's worth) for
    a broker older than YOUNG_BROKER_S or of unknown age; else `young_warmup_s` of them."""
    if broker_age_s is None or broker_age_s >= YOUNG_BROKER_S or young_warmup_s <= 0:
        return None
    return max(100, round(rate * young_warmup_s))


def lower_floor(before: dict[str, Any], after: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The floor a run's ratios use, and which: of the floors measured before and after the
    scenarios, the one with the lower p99. A floor is a lower bound (the fastest one Kafka hop
    goes on this machine): a stall, another tenant or a cold broker only raise it, and a raised
    floor flatters `e2e_p99_over_floor`."""
    if after is None or after.get("p99_ms") is None:
        return before, "before"
    if before.get("p99_ms") is None or after["p99_ms"] < before["p99_ms"]:
        return after, "after"
    return before, "before"


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def block_p99s(seconds: list[float], blocks: int = BLOCKS) -> list[float | None]:
    """p99 (ms) of each consecutive block of the samples, in sending order."""
    size = max(1, -(-len(seconds) // blocks))
    return [summarize(seconds[i : i + size])["p99_ms"] for i in range(0, len(seconds), size)]


def unsteady(floor: dict[str, Any], spread: float = 2.0) -> str | None:
    """A note when the floor's quarters disagree by more than `spread`×: its p99 then
    measures the machine's stalls more than Kafka, and so does `e2e_p99_over_floor`."""
    blocks = [b for b in floor.get("p99_by_block_ms", []) if b is not None]
    if len(blocks) < 2 or min(blocks) <= 0 or max(blocks) / min(blocks) <= spread:
        return None
    return (
        f"floor unsteady: p99 by quarter {blocks} ms (load {floor.get('load_avg_1m')}); "
        "e2e_p99_over_floor is not comparable between runs"
    )


async def _leaders_known(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, partitions: int
) -> None:
    """Both clients know a leader for every partition: a freshly created topic is in the
    metadata before its leaders are, and a send or an offset lookup then backs off."""
    for _ in range(100):
        ready = True
        for client in (producer.client, consumer._client):
            cluster = client.cluster
            if len(cluster.partitions_for_topic(topic) or ()) < partitions or any(
                cluster.leader_for_partition(TopicPartition(topic, p)) in (None, -1)
                for p in range(partitions)
            ):
                ready = False
                await client.force_metadata_update()
        if ready:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no leader for every partition of {topic} after 10 s")


async def measure_floor(
    bootstrap: str,
    topic: str,
    partitions: int,
    count: int,
    rate: float,
    progress: Callable[[str], None] = lambda s: None,
    warmup: int | None = None,
) -> dict[str, Any]:
    """`count` round trips at `rate`/s after `warmup` (default: one second's worth, at
    least 100) that are sent the same way and thrown away."""
    warm = max(100, round(rate)) if warmup is None else warmup
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await producer.start()
    await consumer.start()
    total = warm + count
    received: dict[int, float] = {}
    acked: dict[int, float] = {}
    sent: dict[int, float] = {}
    load = os.getloadavg()[0]
    try:
        await _leaders_known(producer, consumer, topic, partitions)
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)

        async def consume() -> None:
            while len(received) < total:
                batches = await consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for messages in batches.values():
                    for m in messages:
                        received.setdefault(int(m.value), now)

        reader = asyncio.create_task(consume())
        acks = []
        t0 = time.monotonic()
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key = f"bench-sq{i % 16:02d}".encode()  # spread over partitions like communities
            sent[i] = time.monotonic()
            ack = await producer.send(topic, str(i).encode(), key=key)
            ack.add_done_callback(lambda _, i=i: acked.setdefault(i, time.monotonic()))
            acks.append(ack)
            if i % 200 == 0:
                stage = "warm-up" if i < warm else "measuring"
                progress(f"floor ({stage}): {i}/{total} sent, {len(received)} received")
        await asyncio.gather(*acks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        await producer.stop()
        await consumer.stop()
    measured = range(warm, total)
    lat = [received[i] - sent[i] for i in measured if i in received]
    ack_lat = [acked[i] - sent[i] for i in measured if i in acked]
    out = summarize(lat)
    acks_summary = summarize(ack_lat)
    out.update(
        {
            "count": len(lat),
            "warmup": warm,
            "lost": count - len(lat),
            "p99_by_block_ms": block_p99s(lat),
            # where the tail is: the produce (broker append, acks=all) or the fetch
            "ack_p50_ms": acks_summary["p50_ms"],
            "ack_p99_ms": acks_summary["p99_ms"],
            "offered_rate": rate,
            "rate": round(total / elapsed, 1) if elapsed > 0 else 0.0,
            "partitions": partitions,
            "load_avg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
        }
    )
    return out

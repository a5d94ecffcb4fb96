"""Issue 18 on the real broker: the dispatch agent writes its tables' changelog records straight
to aiokafka (streams/changelog_writes.py), not through Faust's per-record relaying, and the
changelogs are what they were. Every record is on the partition of the command that wrote it
(the value says which), counted once in the worker's /stats and in its Prometheus metrics;
after a graceful stop each stored value is its key's last changelog record, and each
partition's persisted offset is its last record's (a restart re-reads none of it)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from streams.app import create_faust_app
from streams.command_groups import reading_any_partition
from tests.integration.test_event_batches import SECRET, drivers_and_a_request
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

COMMUNITY = "changelogged"
HELPERS = [f"c{i}" for i in range(5)]
TABLES = ("requests", "helpers")


async def read_to_end(stack: LocalStack, topic: str) -> list[Any]:
    """Every record of `topic`, up to its end offsets as they are now (read in order)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []

        async def at_the_end() -> bool:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(msgs)
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        await eventually(at_the_end, timeout=60, every=0, what=f"{topic} read to its end")
        return records
    finally:
        await consumer.stop()


def sent_per_topic(metrics: str) -> dict[str, float]:
    """The worker's `*_topic_messages_sent_total{topic="topic.X"}` samples, by X."""
    found = re.findall(r'_topic_messages_sent_total\{topic="topic\.([^"]+)"\} (\S+)', metrics)
    return {topic: float(n) for topic, n in found}


async def test_changelogs_hold_what_the_tables_hold(stack: LocalStack) -> None:
    changelogs = {name: f"{stack.app_id}-{name}-changelog" for name in TABLES}
    async with PushReceiver() as phones:
        endpoint = {"name": "phones", "kind": "webhook", "url": phones.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        worker = stack.start_worker()
        stack.bot_communities.add(COMMUNITY)
        await stack.start_api()
        await drivers_and_a_request(stack, COMMUNITY, HELPERS)
        await phones.wait_for(
            lambda: any(p.json()["data"].get("kind") == "offer" for p in phones.received),
            timeout=60,
        )

    records: dict[str, list[Any]] = {}

    async def counted_alike() -> tuple[int, dict[str, float]] | None:
        """Once the worker is idle: its writes, as /stats, /metrics and the topics count
        them (the request's rungs are 20 s and more apart: the three agree between two)."""
        stats = await stack.worker_stats(worker)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{worker.web_port}/metrics")).text
        for name, topic in changelogs.items():
            records[name] = await read_topic(stack.kafka_bootstrap, topic, until=10**6, timeout=2)
        on_topics = sum(len(r) for r in records.values())
        sent = sent_per_topic(metrics)
        counted = {topic: sent.get(topic, 0.0) for topic in changelogs.values()}
        if stats is None or not stats["table_writes"] == on_topics == sum(counted.values()):
            return None
        return on_topics, counted

    on_topics, counted = await eventually(counted_alike, timeout=30, what="writes counted")
    assert on_topics >= len(HELPERS) + 1, records  # a helper each, then the request
    for name, topic in changelogs.items():
        assert counted[topic] == len(records[name]) > 0, (name, counted)
        for r in records[name]:
            assert json.loads(r.value)["p"] == r.partition, r  # the command's partition
    worker.stop()
    assert worker.popen.wait(timeout=60) == 0, worker.log_tail()
    # Every record as the stopped worker left it: a rung may have climbed since the reads
    # above (the request's first is 20 s after its decision), writing the request again.
    for name, topic in changelogs.items():
        records[name] = await read_to_end(stack, topic)

    # The worker's data dir and app id; its endpoints (JSON in the env) play no part here.
    app = create_faust_app(stack.settings(push_endpoints=[]), "worker-1")
    for name, topic in changelogs.items():
        table = app.Table(
            name, partitions=stack.partitions, default=None, key_type=bytes, value_type=bytes
        )
        last: dict[bytes, bytes] = {}
        last_offset: dict[int, int] = {}
        for r in records[name]:
            last[r.key] = r.value
            last_offset[r.partition] = max(r.offset, last_offset.get(r.partition, -1))
        for p in range(stack.partitions):
            table.data._db_for_partition(p)  # opened as an assignment opens them
        with reading_any_partition():
            stored = {key: table.data[key] for key in last}
        assert stored == last
        persisted: Mapping[int, int | None] = {
            p: table.data.persisted_offset(TP(topic, p)) for p in last_offset
        }
        assert persisted == last_offset, name

"""A worker whose committed offsets retention has overtaken starts and goes on; it does not
exit at every start (the notify-retention crash loop). Real Kafka and PostgreSQL.

The mechanism: the notify agent acknowledges an `events` record only once every delivery
it caused has settled (streams/notify.py), so one record that never settles (or a worker
stopped for longer than the topics' retention, `DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS`,
which `python -m dispatcher topics` sets as `retention.ms` on `commands`, `events` and the
dead letters) leaves the group's committed offset behind records retention then deletes.
At the next start the consumer seeks to that committed offset, Kafka answers "out of
range", aiokafka resets to the earliest offset still there, and the contiguous-offset guard
(streams/offsets.py, streams/faust_consumer.py) takes the jump for a record skipped by a
fetch race: it seeks back to the committed offset, gets the same answer, and after 20 such
re-reads calls it a hole and exits 70. The records are gone for good, so every restart
does the same: the supervisor restarts it until it gives up, and no partition of the
worker is served again (`commands` too: its dispatch agent exits on a first offset above
the committed one). Expected: records deleted by retention (below the partition's log
start) are reported as lost, loudly, and consumption goes on from the log start; only an
offset still in the log that re-reading never returns is a hole.

Here retention's effect is made at once: records are deleted below an offset
(`delete_records`, what retention does to whole segments) after the worker's group
committed an offset below it.
"""

from __future__ import annotations

import asyncio

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from prometheus_client.parser import text_string_to_metric_families

from dispatcher.testing.stack import LocalStack
from tests.support.waiting import eventually

BEFORE, AFTER = 6, 2  # records deleted by "retention", and records left after them


async def lose_to_retention(
    stack: LocalStack, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Each partition: records the worker's group never processed (committed at 0), the
    first BEFORE of them deleted. Returns each partition's end offset."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for tp in tps:
            for n in range(BEFORE + AFTER):  # not a command or an event: lettered, acked
                await producer.send_and_wait(
                    tp.topic, value=b"\x00 retained %d" % n, key=b"c-ret", partition=tp.partition
                )
    finally:
        await producer.stop()
    committer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, group_id=stack.app_id, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign(tps)
        await committer.commit({tp: 0 for tp in tps})
    finally:
        await committer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(before_offset=BEFORE) for tp in tps})
    finally:
        await admin.close()
    return {tp: BEFORE + AFTER for tp in tps}


async def committed(stack: LocalStack, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(stack.app_id, partitions=tps)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def test_a_worker_behind_retention_starts_and_goes_on(stack: LocalStack) -> None:
    env = stack.env()
    tps = [
        TopicPartition(env["DISPATCH_EVENTS_TOPIC"], 0),
        TopicPartition(env["DISPATCH_COMMANDS_TOPIC"], 0),
    ]
    ends = await lose_to_retention(stack, tps)
    worker = stack.start_worker()

    async def caught_up() -> bool:
        assert worker.alive(), f"the worker exited:\n{worker.log_tail(30)}"
        now = await committed(stack, tps)
        return all(now.get(tp, -1) >= end for tp, end in ends.items())

    await eventually(caught_up, timeout=120, every=1.0, what="the records after the lost ones")
    await asyncio.sleep(5)  # and it stays up
    assert worker.alive(), worker.log_tail(30)
    log = worker.log_path.read_text(errors="replace")
    assert "offset hole" not in log
    # The loss is reported, loudly: a critical line per partition, naming the range, and
    # the counter per topic.
    for tp in tps:
        line = f"records lost to retention on {tp.topic}[{tp.partition}]: offsets 0..5 (6 records)"
        assert log.count(line) == 1, worker.log_tail(30)
        # ...and a dead letter of it, through the worker's sink (what staff's tools read).
        assert f"dead-lettered {tp.topic}[{tp.partition}]@0 at process" in log, log[-3000:]
    assert await lost_counts(worker.web_port) == {tp.topic: BEFORE for tp in tps}


async def lost_counts(port: int | None) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"http://127.0.0.1:{port}/metrics")
    r.raise_for_status()
    return {
        s.labels["topic"]: s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "dispatch_records_lost_to_retention_total"
    }

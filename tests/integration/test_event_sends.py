"""Issue 18 on the real broker: the dispatch agent's `events` records, sent straight to
aiokafka (streams/event_sends.py), are the records Faust's own `topic.send` makes of the same
key and value: the same partition (the app's community partitioner, a placed community and
hashed ones alike), no headers, a create time stamped as they are sent. Also the order the
agent relies on: records let go together are acknowledged together."""

from __future__ import annotations

import asyncio
import time

import pytest

from dispatcher.testing.stack import LocalStack
from streams.app import create_faust_app
from streams.event_sends import EventsSender
from streams.faust_producer import send_now
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

COMMUNITIES = [b"placed", b"c1", b"c2", b"c3", b"c4", b"c5"]


async def test_the_records_are_faust_own(stack: LocalStack) -> None:
    settings = stack.settings(push_endpoints=[], community_partitions={"placed": 3})
    app = create_faust_app(settings, "event-sends")
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    topic = app.topic(settings.events_topic, partitions=stack.partitions, **raw)
    sender = EventsSender(app, settings.events_topic)
    await app.maybe_start_producer()
    before = time.time()
    try:
        futures = []
        for key in COMMUNITIES:
            futures.append(await topic.send(key=key, value=b"faust:" + key))
            futures.append(await sender.send(key=key, value=b"ours:" + key))
        send_now(app.producer._ensure_producer(), settings.events_topic)
        acknowledged = await asyncio.wait_for(asyncio.gather(*futures), 30)
    finally:
        await app.producer.stop()
    records = await read_topic(
        stack.kafka_bootstrap, settings.events_topic, until=2 * len(COMMUNITIES)
    )
    by_value = {r.value: r for r in records}
    assert len(by_value) == 2 * len(COMMUNITIES)
    for key in COMMUNITIES:
        faust, ours = by_value[b"faust:" + key], by_value[b"ours:" + key]
        assert ours.key == faust.key == key
        assert ours.partition == faust.partition
        assert list(ours.headers) == list(faust.headers) == []
        assert ours.timestamp_type == faust.timestamp_type == 0  # create time
        assert before * 1000 - 1 <= ours.timestamp <= time.time() * 1000
    assert by_value[b"ours:placed"].partition == 3  # the community table, not the hash
    ours_acked = [m.partition for m in acknowledged[1::2]]  # aiokafka's RecordMetadata
    assert ours_acked == [by_value[b"ours:" + k].partition for k in COMMUNITIES]

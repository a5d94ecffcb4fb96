"""The dispatch agent's table writes (streams/changelog_writes.py) on a real RocksDB store in a
temporary dir, with aiokafka's producer stood in for by one that keeps what it is given and
resolves each record's future as the test says (Kafka itself: tests/integration/
test_changelog_writes.py). The value lands in the store of the event's partition, the same
record goes to that changelog partition, the sensors count it as Faust's path does, the
offset is kept once acknowledged, and a refused record stops the worker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.sensors.monitor import Monitor
from faust.stores.rocksdb import Store

from streams import changelog_writes
from streams.changelog_writes import EXIT_CHANGELOG_LOST, ChangelogWriter
from streams.command_groups import reading_any_partition, set_current_event
from streams.faust_store import store_url


class Producer:
    """aiokafka's `send` as far as the writer uses it: the record in, its future out."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int, asyncio.Future[Any]]] = []

    async def send(self, topic: str, value: bytes, *, key: bytes, partition: int) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, value, key, partition, future))
        return future


class Event:
    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(topic="commands", partition=partition)


def ack(future: asyncio.Future[Any], topic: str, partition: int, offset: int) -> None:
    tp = TopicPartition(topic, partition)
    future.set_result(RecordMetadata(topic, partition, tp, offset, -1, 0, 0))


def world(tmp_path: Path) -> tuple[Any, Any, Producer, Monitor, list[int]]:
    app = faust.App(
        "t", broker="kafka://127.0.0.1:1", store=store_url("rocksdb://"), datadir=tmp_path
    )
    table = app.Table("helpers", partitions=4, key_type=bytes, value_type=bytes)
    producer = Producer()
    app.producer._producer = producer  # what `_ensure_producer` hands out
    monitor = Monitor()
    app.sensors.add(monitor)
    table._verified_source_topics_for_partitions.add("commands")  # no broker to ask
    exits: list[int] = []
    return app, table, producer, monitor, exits


async def test_a_write_sends_counts_and_stores_once_kafka_has_it(
    tmp_path: Path,
) -> None:
    app, table, producer, monitor, exits = world(tmp_path)
    writer = ChangelogWriter(app, exit_process=exits.append)
    topic = table.changelog_topic.get_topic_name()
    event = Event(2)  # held: the current event is a weak reference
    set_current_event(event)
    await writer.write(table, b"h1", b'{"p":2}')
    [(sent_topic, value, key, partition, future)] = producer.sent
    assert (sent_topic, value, key, partition) == (topic, b'{"p":2}', b"h1", 2)
    # Not in the store before Kafka has the record (a worker killed now, restarted on this
    # data directory, must not find it there: the changelog may never get it); this
    # process reads it meanwhile.
    assert Store._get(table.data, b"h1") is None
    with reading_any_partition():
        assert writer.value(table, b"h1") == b'{"p":2}'
        assert dict(writer.items(table)) == {b"h1": b'{"p":2}'}
    assert monitor.messages_sent_by_topic[topic] == 1
    assert monitor.tables["helpers"].keys_updated == 1
    tp = TopicPartition(topic, 2)
    assert table.data.persisted_offset(tp) is None  # not before Kafka has it
    del event  # the acknowledgement comes when the writing event is long gone
    set_current_event(Event(0))
    ack(future, topic, 2, 41)
    await asyncio.sleep(0)  # the done callback
    # In partition 2's database, and only there.
    two, one = Event(2), Event(1)
    set_current_event(two)
    assert Store._get(table.data, b"h1") == b'{"p":2}'
    assert table.data._key_index[b"h1"] == 2
    set_current_event(one)
    assert Store._get(table.data, b"h1") is None
    with reading_any_partition():
        assert table.data[b"h1"] == writer.value(table, b"h1") == b'{"p":2}'
    assert writer._held == {id(table): {}}
    assert table.data.persisted_offset(tp) == 41
    assert len(monitor.send_latency) == 1 and monitor.send_errors == 0
    assert exits == []


async def test_writes_awaiting_kafka_are_read_newest_first_and_stored_in_order(
    tmp_path: Path,
) -> None:
    app, table, producer, _, exits = world(tmp_path)
    writer = ChangelogWriter(app, exit_process=exits.append)
    topic = table.changelog_topic.get_topic_name()
    event = Event(1)
    set_current_event(event)
    await writer.write(table, b"r1", b"v1")
    await writer.write(table, b"r1", b"v2")
    await writer.write(table, b"r2", b"w1")
    with reading_any_partition():
        assert writer.value(table, b"r1") == b"v2"
        ack(producer.sent[0][-1], topic, 1, 7)
        await asyncio.sleep(0)
        assert table.data[b"r1"] == b"v1"  # the first acknowledged
        assert writer.value(table, b"r1") == b"v2"  # the second still awaited
        assert dict(writer.items(table)) == {b"r1": b"v2", b"r2": b"w1"}
        ack(producer.sent[1][-1], topic, 1, 8)
        ack(producer.sent[2][-1], topic, 1, 9)
        await asyncio.sleep(0)
        assert (table.data[b"r1"], table.data[b"r2"]) == (b"v2", b"w1")
    assert writer._held == {id(table): {}} and exits == []


async def test_a_send_that_raises_holds_nothing(tmp_path: Path) -> None:
    app, table, producer, _, exits = world(tmp_path)
    writer = ChangelogWriter(app, exit_process=exits.append)

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("metadata not ready")

    producer.send = refuse  # type: ignore[method-assign]
    event = Event(0)
    set_current_event(event)
    with pytest.raises(RuntimeError):
        await writer.write(table, b"r1", b"v1")
    with reading_any_partition():
        assert writer.value(table, b"r1") is None and list(writer.items(table)) == []


@pytest.mark.parametrize("how", ["refused", "cancelled"])
async def test_a_record_kafka_did_not_take_stops_the_worker(tmp_path: Path, how: str) -> None:
    app, table, producer, monitor, exits = world(tmp_path)
    writer = ChangelogWriter(app, exit_process=exits.append)
    topic = table.changelog_topic.get_topic_name()
    event = Event(3)
    set_current_event(event)
    await writer.write(table, b"h1", b"v")
    future = producer.sent[0][-1]
    if how == "refused":
        future.set_exception(RuntimeError("NotEnoughReplicas"))
    else:
        future.cancel()
    await asyncio.sleep(0)
    assert exits == [EXIT_CHANGELOG_LOST]
    assert monitor.send_errors == 1
    assert table.data.persisted_offset(TopicPartition(topic, 3)) is None
    assert Store._get(table.data, b"h1") is None  # never stored what Kafka did not take


async def test_a_write_outside_an_event_is_refused(tmp_path: Path) -> None:
    app, table, producer, _, exits = world(tmp_path)
    writer = ChangelogWriter(app, exit_process=exits.append)
    with reading_any_partition(), pytest.raises(RuntimeError, match="outside"):
        await writer.write(table, b"h1", b"v")
    assert producer.sent == []


async def test_a_plain_mapping_is_written_as_a_mapping() -> None:
    table: dict[bytes, bytes] = {}
    await changelog_writes.set_item(table, b"k", b"v")
    assert table == {b"k": b"v"}

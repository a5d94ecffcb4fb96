"""The dispatch agent's table writes: the store, then the changelog record straight to aiokafka.

`table[key] = value` on a Faust table goes `Table.on_key_set` → `send_changelog` →
`Topic.send_soon` → a `FutureMessage` in the producer's buffer → the buffer's task →
`publish_message` (sensors, a callback partial) → aiokafka, then into the store. The worker
writes one record per changed request and helper, several per help request, and that path
was about a tenth of its CPU (issue 18's profiles). `ChangelogWriter.write` does what it does
with none of the relaying: the value into the store of the current event's partition, the
same record (topic, partition, key, value, no headers) to aiokafka's producer, the table's
and the producer's sensors told as Faust tells them, and the persisted offset set when Kafka
acknowledges, as `Table._on_changelog_sent` does.

One difference, on purpose: a changelog record Kafka refused. Upstream logs a warning and
goes on, the store then ahead of a changelog that another worker recovers from. Here the
worker exits (75, to be restarted) from the record's done callback, which runs before the
commit that would acknowledge its command: Faust's commit first awaits the producer's flush,
whose wait on the batch resumes only after the batch's records' callbacks have run (aiokafka
resolves the batch future, then the records', callbacks in that order; pinned in
tests/unit/test_faust_pins.py). The command is then replayed and writes the record again.

Deletions (the prune, rare) still take Faust's path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from faust.stores import rocksdb
from faust.streams import current_event

log = logging.getLogger(__name__)

EXIT_CHANGELOG_LOST = 75  # the supervisor restarts the worker; its commands are replayed


@dataclass(frozen=True)
class _Target:
    table: Any
    topic: str
    put: Callable[[bytes, bytes], None]  # into the store of the current event's partition
    store: Any


class ChangelogWriter:
    def __init__(self, app: Any, exit_process: Callable[[int], object] = os._exit) -> None:
        self.app = app
        self._exit = exit_process
        self._targets: dict[int, _Target] = {}

    def _target(self, table: Any) -> _Target:
        target = self._targets.get(id(table))
        if target is None:
            store = table.data
            # RocksDB's `_set` is what its `__setitem__` calls once the raw codec returned
            # the bytes unchanged (the tables are bytes → bytes, serializer "raw").
            put = store._set if isinstance(store, rocksdb.Store) else store.__setitem__
            target = _Target(table, table.changelog_topic.get_topic_name(), put, store)
            self._targets[id(table)] = target
        return target

    async def write(self, table: Any, key: bytes, value: bytes) -> None:
        """`table[key] = value`, for the current event's partition (as Faust writes it)."""
        target = self._target(table)
        event = current_event()
        if event is None:
            raise RuntimeError("a table write outside of a stream's event")
        table._verify_source_topic_partitions(event.message.topic)  # once per topic
        partition = event.message.partition
        # Stored before the record is sent: its offset, set on acknowledgement, is then
        # never ahead of the data it covers.
        target.put(key, value)
        sensors = self.app.sensors
        sensors.on_table_set(table, key, value)
        faust_producer = self.app.producer
        state = sensors.on_send_initiated(
            faust_producer, target.topic, message=None, keysize=len(key), valsize=len(value)
        )
        sent = await faust_producer._ensure_producer().send(
            target.topic, value, key=key, partition=partition
        )
        sent.add_done_callback(partial(self._acknowledged, target, state))

    def _acknowledged(self, target: _Target, state: Any, sent: Any) -> None:
        sensors = self.app.sensors
        exc = None if sent.cancelled() else sent.exception()
        if sent.cancelled() or exc is not None:
            sensors.on_send_error(self.app.producer, exc, state)
            log.critical(
                "a %s record was not written (%r): exiting so its command is replayed",
                target.topic,
                exc,
            )
            logging.shutdown()
            self._exit(EXIT_CHANGELOG_LOST)
            return
        metadata = sent.result()
        target.store.set_persisted_offset(metadata.topic_partition, metadata.offset)
        sensors.on_send_completed(self.app.producer, state, metadata)


async def set_item(table: Any, key: bytes, value: bytes) -> None:
    """A plain mapping's write (the unit tests' tables)."""
    table[key] = value

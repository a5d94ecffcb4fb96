"""The dispatch agent's table writes: the changelog record straight to aiokafka, then, once
Kafka has acknowledged it, the store.

`table[key] = value` on a Faust table goes `Table.on_key_set` → `send_changelog` →
`Topic.send_soon` → a `FutureMessage` in the producer's buffer → the buffer's task →
`publish_message` (sensors, a callback partial) → aiokafka, then into the store. The worker
writes one record per changed request and helper, several per help request, and that path
was about a tenth of its CPU (issue 18's profiles). `ChangelogWriter.write` does what it does
with none of the relaying: the same record (topic, partition, key, value, no headers) to
aiokafka's producer, the table's and the producer's sensors told as Faust tells them, and on
Kafka's acknowledgement the value into the store of its partition and the persisted offset
set, as `Table._on_changelog_sent` does.

Two differences, on purpose:
- The store is written only once Kafka has the record. Upstream stores first: a worker
  killed between the two, restarted on its own data directory, rebuilt its state from a
  store holding a request the changelog never got; the command replayed found it applied
  and wrote nothing, so every worker that later recovered the partition from the changelog
  (a takeover, a lost disk) never knew the request, which then never escalated. Until the
  acknowledgement a write is held here (`items`, `value`: what the in-memory state is rebuilt
  from reads it), so nothing this process reads is behind what it wrote.
- A changelog record Kafka refused. Upstream logs a warning and goes on. Here the worker
  exits (75, to be restarted) from the record's done callback, which runs before the commit
  that would acknowledge its command: Faust's commit first awaits the producer's flush, whose
  wait on the batch resumes only after the batch's records' callbacks have run (aiokafka
  resolves the batch future, then the records', callbacks in that order; pinned in
  tests/unit/test_faust_pins.py). The command is then replayed and writes the record again.
  The same ordering puts every acknowledged value into the store before the commit (and
  before a rebalance closes the partition's database: Faust flushes the producer first).

Deletions (the prune, rare) still take Faust's path.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
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
    put: Callable[[bytes, bytes, int], None]  # (key, value, partition) into the store
    store: Any


def _putter(store: Any) -> Callable[[bytes, bytes, int], None]:
    if not isinstance(store, rocksdb.Store):
        return lambda key, value, partition: store.__setitem__(key, value)

    def put(key: bytes, value: bytes, partition: int) -> None:
        # `Store._set` (what `__setitem__` calls once the raw codec returned the bytes
        # unchanged: the tables are bytes → bytes) for a given partition: at the
        # acknowledgement the event that wrote it is no longer current.
        db = store._db_for_partition(partition)
        store._key_index[key] = partition
        db.put(key, value)

    return put


class ChangelogWriter:
    def __init__(self, app: Any, exit_process: Callable[[int], object] = os._exit) -> None:
        self.app = app
        self._exit = exit_process
        self._targets: dict[int, _Target] = {}
        # Per table (by id), per key: the values sent and not yet acknowledged, oldest first.
        self._held: dict[int, dict[bytes, deque[bytes]]] = {}

    def _target(self, table: Any) -> _Target:
        target = self._targets.get(id(table))
        if target is None:
            store = table.data
            topic = table.changelog_topic.get_topic_name()
            target = _Target(table, topic, _putter(store), store)
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
        held = self._held.setdefault(id(table), {}).setdefault(key, deque())
        held.append(value)
        sensors = self.app.sensors
        sensors.on_table_set(table, key, value)
        faust_producer = self.app.producer
        state = sensors.on_send_initiated(
            faust_producer, target.topic, message=None, keysize=len(key), valsize=len(value)
        )
        try:
            sent = await faust_producer._ensure_producer().send(
                target.topic, value, key=key, partition=partition
            )
        except BaseException:
            held.pop()  # never sent (the caller retries or exits)
            self._release(table, key, held)
            raise
        sent.add_done_callback(
            partial(self._acknowledged, target, state, key, value, partition, held)
        )

    def _release(self, table: Any, key: bytes, held: deque[bytes]) -> None:
        if not held:
            by_key = self._held[id(table)]
            if by_key.get(key) is held:
                del by_key[key]

    def items(self, table: Any) -> Iterator[tuple[bytes, bytes]]:
        """`table.items()` with the writes still awaiting Kafka's acknowledgement."""
        held = self._held.get(id(table))
        if not held:
            yield from table.items()
            return
        for key, value in table.items():
            if key not in held:
                yield key, value
        for key, values in list(held.items()):
            yield key, values[-1]

    def value(self, table: Any, key: bytes) -> bytes | None:
        """`table.get(key)` with the writes still awaiting Kafka's acknowledgement."""
        values = self._held.get(id(table), {}).get(key)
        return values[-1] if values else table.get(key)

    def _acknowledged(
        self,
        target: _Target,
        state: Any,
        key: bytes,
        value: bytes,
        partition: int,
        held: deque[bytes],
        sent: Any,
    ) -> None:
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
        # Stored before its offset: the persisted offset is never ahead of the data it covers.
        target.put(key, value, partition)
        held.popleft()  # acknowledgements of one key come in order (one partition)
        self._release(target.table, key, held)
        target.store.set_persisted_offset(metadata.topic_partition, metadata.offset)
        sensors.on_send_completed(self.app.producer, state, metadata)


async def set_item(table: Any, key: bytes, value: bytes) -> None:
    """A plain mapping's write (the unit tests' tables)."""
    table[key] = value


def table_items(table: Any) -> Iterator[tuple[bytes, bytes]]:
    """A plain mapping's items (the unit tests' tables)."""
    return iter(table.items())


def table_value(table: Any, key: bytes) -> bytes | None:
    value: bytes | None = table.get(key)
    return value

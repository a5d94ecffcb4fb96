"""Faust's RocksDB table store, writing its changelog offsets at most once a second.

Upstream (faust-streaming 0.15.3, `faust/stores/rocksdb.py`) writes a table partition's
"persisted offset" into its RocksDB database on every changelog record Kafka acknowledges
(`Collection._on_changelog_sent`): a second RocksDB write per table write, 8 per help request
under `bench e2e` (1.8 % of the worker's CPU in py-spy at 200 req/s). The offset only tells a
later recovery where the local data stands, so recovery reads the changelog from there on.

Here the newest offset per partition is kept in memory and written when a second has passed
since the last write, before Faust closes a partition's database (a revocation) and at stop; a
reset forgets them with the data. An offset written late is never ahead of the data: a record's
value is in RocksDB before its offset is set (`streams/changelog_writes.py` stores the value on
Kafka's acknowledgement, then sets the offset; Faust's `Table.on_key_set` hands it to its
buffer, then stores, and the offset comes with the acknowledgement), so the stored offset is
always at or behind what the database holds. A crash between two writes leaves it
behind by up to a second of records, which the next recovery reads from the changelog again;
applying a record whose value the database already holds changes nothing (the same value, in
the same order, the newest last). `tests/unit/test_faust_store.py`; the upstream methods this relies
on are pinned in `tests/unit/test_faust_pins.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from faust.stores import STORES
from faust.stores.rocksdb import Store
from faust.types import TP

#: Seconds between writes of a partition's newest changelog offset.
WRITE_EVERY_S = 1.0
#: The store URL scheme of this store (`streams/app.py` maps `rocksdb://` to it).
SCHEME = "rocksdb-lazy-offsets"


class LazyOffsetStore(Store):
    """RocksDB store whose persisted offsets are written at most every WRITE_EVERY_S."""

    clock: Callable[[], float] = time.monotonic

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # partition -> its newest changelog offset not yet written
        self._unwritten: dict[int, tuple[TP, int]] = {}
        self._written_at = self.clock()

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self._unwritten[tp.partition] = (tp, offset)
        if self.clock() - self._written_at >= WRITE_EVERY_S:
            self.write_offsets()

    def persisted_offset(self, tp: TP) -> int | None:
        unwritten = self._unwritten.get(tp.partition)
        return unwritten[1] if unwritten is not None else super().persisted_offset(tp)

    def write_offsets(self, partitions: set[int] | None = None) -> None:
        """Write the kept offsets (of `partitions`, or all) into their databases."""
        for partition in list(self._unwritten):
            if partitions is None or partition in partitions:
                super().set_persisted_offset(*self._unwritten.pop(partition))
        if partitions is None:
            self._written_at = self.clock()

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        self.write_offsets({tp.partition for tp in tps if tp.topic in table.changelog_topic.topics})
        super().revoke_partitions(table, tps)

    async def stop(self) -> None:
        self.write_offsets()
        await super().stop()

    def reset_state(self) -> None:
        self._unwritten.clear()
        super().reset_state()


def register() -> None:
    """Make SCHEME:// name this store for Faust's store lookup (`faust.stores.by_url`)."""
    STORES.aliases[SCHEME] = f"{__name__}:LazyOffsetStore"


def store_url(url: str) -> str:
    """The URL Faust is given for the configured store: RocksDB with lazy offsets."""
    if url.startswith("rocksdb://"):
        register()
        return SCHEME + url.removeprefix("rocksdb")
    return url

"""The worker's RocksDB table store writes changelog offsets lazily (streams/faust_store.py):
never ahead of the data, at most once a second, and every kept one before its database is
closed, at stop and never after a reset. On a real RocksDB database in a temporary dir."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.stores.rocksdb import Store
from faust.types import TP

from dispatcher.settings import Settings
from streams import faust_store
from streams.app import create_faust_app
from streams.faust_store import LazyOffsetStore, store_url


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def table(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setattr(LazyOffsetStore, "clock", clock)
    app = faust.App(
        "t", broker="kafka://127.0.0.1:1", store=store_url("rocksdb://"), datadir=tmp_path
    )
    t = app.Table("helpers")
    return t, t.data


def on_disk(store: Any, tp: TP) -> int | None:
    """What a recovery after a crash reads: the database's own offset."""
    result: int | None = Store.persisted_offset(store, tp)
    return result


def test_the_worker_app_uses_the_lazy_store_and_others_are_left_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    app = create_faust_app(settings, "w")
    assert isinstance(app.Table("helpers").data, LazyOffsetStore)
    assert store_url("memory://") == "memory://"


def test_offsets_are_written_at_most_once_a_second_and_read_back_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    t, store = table(tmp_path, clock, monkeypatch)
    tp = TP(t.changelog_topic.get_topic_name(), 2)
    store.set_persisted_offset(tp, 7)
    clock.t += 0.5
    store.set_persisted_offset(tp, 8)
    assert store.persisted_offset(tp) == 8  # Faust's recovery reads the newest
    assert on_disk(store, tp) is None  # nothing written yet: a crash re-reads from the start
    clock.t += faust_store.WRITE_EVERY_S
    store.set_persisted_offset(tp, 9)
    assert on_disk(store, tp) == 9 and store.persisted_offset(tp) == 9
    clock.t += 0.1
    store.set_persisted_offset(tp, 10)
    assert on_disk(store, tp) == 9  # behind the data by less than a second of records


def test_kept_offsets_are_written_before_a_revocation_closes_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    t, store = table(tmp_path, clock, monkeypatch)
    topic = t.changelog_topic.get_topic_name()
    store.set_persisted_offset(TP(topic, 1), 4)
    store.set_persisted_offset(TP(topic, 2), 6)
    store.revoke_partitions(t, {TP(topic, 1), TP("another-topic", 2)})
    assert store._unwritten.keys() == {2}  # another topic's partition 2 is not this table's
    assert on_disk(store, TP(topic, 1)) == 4
    asyncio.run(store.stop())
    assert not store._unwritten and on_disk(store, TP(topic, 2)) == 6


def test_a_reset_forgets_the_kept_offsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    t, store = table(tmp_path, clock, monkeypatch)
    tp = TP(t.changelog_topic.get_topic_name(), 0)
    store.set_persisted_offset(tp, 3)
    store.reset_state()
    assert store.persisted_offset(tp) is None and on_disk(store, tp) is None


def test_an_upgraded_worker_opens_the_databases_upstream_wrote(tmp_path: Path) -> None:
    """The scheme names the class only: the same table, the same files on disk."""
    paths = []
    for url in ("rocksdb://", store_url("rocksdb://")):
        app = faust.App("t", broker="kafka://127.0.0.1:1", store=url, datadir=tmp_path)
        paths.append(app.Table("helpers").data.partition_path(3))
    assert paths[0] == paths[1]


def _log_bytes(path: Path) -> int:
    """The size of a RocksDB database's write-ahead log files."""
    return sum(f.stat().st_size for f in path.glob("*.log"))


def _db(tmp_path: Path, url: str, partition: int) -> tuple[Any, Path]:
    app = faust.App("t", broker="kafka://127.0.0.1:1", store=url, datadir=tmp_path)
    store = app.Table("helpers").data
    return store._db_for_partition(partition), Path(store.partition_path(partition))


def test_writes_skip_the_write_ahead_log_that_upstream_appends_to(tmp_path: Path) -> None:
    value = b"v" * 500
    upstream, upstream_path = _db(tmp_path / "upstream", "rocksdb://", 0)
    ours, our_path = _db(tmp_path / "ours", store_url("rocksdb://"), 0)
    for i in range(200):
        upstream.put(b"k%d" % i, value)
        ours.put(b"k%d" % i, value)
    assert _log_bytes(upstream_path) > 200 * len(value)  # the control: the log is seen
    assert _log_bytes(our_path) == 0
    assert ours[b"k199"] == value


def _write_then_crash(tmp_path: Path) -> None:
    """In a child process: 500 writes flushed, 500 more in the memtable, then killed."""
    db, _ = _db(tmp_path, store_url("rocksdb://"), 1)
    for i in range(500):
        db.put(b"k%03d" % i, b"x")
    db.flush()
    for i in range(500, 1000):
        db.put(b"k%03d" % i, b"x")
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_crash_loses_only_the_writes_since_the_last_flush_and_a_close_none(
    tmp_path: Path,
) -> None:
    # Spawned, not forked: a fork of this process (RocksDB's threads) can hang in the child.
    child = multiprocessing.get_context("spawn").Process(target=_write_then_crash, args=(tmp_path,))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    db, _ = _db(tmp_path, store_url("rocksdb://"), 1)
    # Every write up to the flush, none after it: a prefix, so an offset found is never
    # ahead of the data found.
    assert list(db.keys()) == [b"k%03d" % i for i in range(500)]
    for i in range(500, 600):
        db.put(b"k%03d" % i, b"y")
    db.close()  # a revocation or a stop: the memtable is flushed
    db, _ = _db(tmp_path, "rocksdb://", 1)
    assert len(list(db.keys())) == 600 and db[b"k599"] == b"y"

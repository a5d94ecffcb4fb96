"""The worker's RocksDB table store writes changelog offsets lazily (streams/faust_store.py):
never ahead of the data, at most once a second, and every kept one before its database is
closed, at stop and never after a reset. On a real RocksDB database in a temporary dir."""

from __future__ import annotations

import asyncio
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

"""The worker's garbage-collector watch (streams/gc_stats.py) and the bench's gc figures."""

from __future__ import annotations

import gc

from dispatcher.bench.e2e_stats import GC_FIGURES, gc_figures
from streams import gc_stats
from streams.gc_stats import GcWatch


def test_a_full_collection_is_counted_and_timed() -> None:
    watch = GcWatch().install()
    try:
        gc.collect(2)
        gc.collect(0)
    finally:
        watch.uninstall()
    assert watch not in gc.callbacks
    assert watch.collections[2] >= 1 and watch.collections[0] >= 1
    s = watch.summary()
    assert s["collections"] == watch.collections
    full = s["full_pause_ms"]
    assert full["p50"] is not None and 0 < full["p50"] <= full["p99"] <= full["max"]
    assert s["frozen"] == gc.get_freeze_count()


def test_before_any_collection_the_pauses_are_none() -> None:
    s = GcWatch().summary()
    assert s["collections"] == [0, 0, 0]
    assert s["full_pause_ms"] == {"p50": None, "p99": None, "max": None}


def test_installing_twice_registers_once() -> None:
    watch = GcWatch()
    watch.install().install()
    try:
        assert sum(cb is watch for cb in gc.callbacks) == 1
    finally:
        watch.uninstall()


def test_only_the_newest_pauses_are_kept() -> None:
    watch = GcWatch()
    for _ in range(gc_stats.KEEP + 1):
        watch("start", {"generation": 0})
        watch("stop", {"generation": 0, "collected": 1})
    assert watch.collections[0] == gc_stats.KEEP + 1
    assert len(watch.pauses_s[0]) == gc_stats.KEEP // 2 + 1
    assert watch.collected == gc_stats.KEEP + 1


def test_the_bench_reads_worker_1s_figures() -> None:
    stats = [
        {"worker": "worker-2", "gc": None},
        {
            "worker": "worker-1",
            "gc": {
                "collections": [900, 80, 3],
                "total_ms": [40.0, 12.5, 150.25],
                "full_pause_ms": {"p50": 45.0, "p99": 60.0, "max": 60.0},
                "young_pause_ms": {"p50": 0.4, "p99": 4.5, "max": 9.0},
            },
        },
    ]
    assert gc_figures(stats) == {
        "worker_gc_total_ms": 202.8,
        "worker_gc_full_collections": 3,
        "worker_gc_full_p99_ms": 60.0,
        "worker_gc_full_max_ms": 60.0,
        "worker_gc_young_p99_ms": 4.5,
    }
    # A `--compare` base that predates the watch: every figure None, none missing.
    assert gc_figures([{"worker": "worker-1"}]) == dict.fromkeys(GC_FIGURES)

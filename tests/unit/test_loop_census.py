"""The worker's loop census (streams/loop_census.py): which callbacks held a loop, by what
they ran, in which thread; off unless installed, and gone again when uninstalled."""

from __future__ import annotations

import asyncio
import asyncio.events
import threading
import time
from collections.abc import Iterator

import pytest

from dispatcher.bench.e2e_stats import loop_census_between
from streams.loop_census import LoopCensus


@pytest.fixture
def census() -> Iterator[LoopCensus]:
    c = LoopCensus()
    original = asyncio.events.Handle._run
    try:
        yield c
    finally:
        c.uninstall()
        assert asyncio.events.Handle._run is original


async def slow_step() -> None:
    time.sleep(0.004)  # holds the loop, as a CPU-bound step does


async def quick_step() -> None:
    await asyncio.sleep(0)


class Service:  # named as mode's: the census looks inside its `_execute_task`
    async def _execute_task(self, task: object) -> None:
        time.sleep(0.004)
        await asyncio.sleep(0)  # still running after the slow step, as mode's tasks are


async def ticker() -> None: ...


def _run(*coros: object) -> None:
    async def main() -> None:
        for coro in coros:
            await asyncio.create_task(coro)  # type: ignore[arg-type]

    asyncio.run(main())


def test_counts_the_callbacks_that_held_the_loop_by_what_they_ran(census: LoopCensus) -> None:
    assert census.summary() is None  # off until installed
    census.install(2.0)
    _run(slow_step(), quick_step(), slow_step(), Service()._execute_task(ticker))
    summary = census.summary()
    assert summary is not None and summary["min_ms"] == 2.0
    held = summary["callbacks"]
    assert held["main slow_step"]["count"] == 2
    assert held["main slow_step"]["total_ms"] >= 8.0
    assert held["main slow_step"]["max_ms"] >= 4.0
    assert held["main slow_step"]["cpu_ms"] < 4.0  # it slept: wall time, not its own CPU
    assert held["main Service._execute_task/ticker"]["count"] == 1  # the function inside
    assert not any("quick_step" in name for name in held)  # under the threshold


def test_names_the_thread(census: LoopCensus) -> None:
    census.install(2.0)
    worker = threading.Thread(target=_run, args=(slow_step(),), name="consumer-thread")
    worker.start()
    worker.join()
    assert (census.summary() or {})["callbacks"]["consumer-thread slow_step"]["count"] == 1


def test_refuses_a_threshold_that_would_count_everything(census: LoopCensus) -> None:
    with pytest.raises(ValueError):
        census.install(0)
    assert not census.installed


def test_the_bench_takes_what_was_counted_between_two_readings() -> None:
    a0 = {"count": 2, "total_ms": 5.0, "max_ms": 3.0, "cpu_ms": 1.0}
    before = {"callbacks": {"main a": a0}}
    after = {
        "callbacks": {
            "main a": {"count": 5, "total_ms": 9.0, "max_ms": 3.5, "cpu_ms": 2.5},
            "main b": {"count": 1, "total_ms": 12.0, "max_ms": 12.0, "cpu_ms": 11.0},
            "T c": {"count": 0, "total_ms": 0.0, "max_ms": 0.0, "cpu_ms": 0.0},
        }
    }
    between = loop_census_between(after, before)
    assert list(between) == ["main b", "main a"]  # the longest-held first
    assert between["main a"] == {"count": 3, "total_ms": 4.0, "cpu_ms": 1.5, "max_ms": 3.5}
    assert loop_census_between(None, before) == {}
    assert loop_census_between(after, None)["main a"]["count"] == 5

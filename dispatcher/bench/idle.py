"""`python -m dispatcher bench idle`: what an idle worker costs, per consumer fetch wait.

For each `--fetch-wait` value in turn (rounds alternate the order), a worker starts on a fresh
namespace (own topics, database, app id; cleaned up), is left `--settle` seconds to start,
join and recover, and then its process tree's CPU (utime + stime from /proc) is read over
`--seconds` with nothing to do. What it measures: the empty fetches, heartbeats, commits and
timers that a shorter `DISPATCH_CONSUMER_FETCH_MAX_WAIT_MS` multiplies. Prints numbers; asserts
none. Progress on stderr.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

from dispatcher.bench.cli import positive_ints
from dispatcher.bench.e2e_cpu import read_stats, tick_hz, tree_ticks
from dispatcher.bench.e2e_stack import bench_stack
from dispatcher.testing.stack import default_kafka_bootstrap, default_pg_port


def _say(text: str) -> None:
    print(f"[bench idle] {text}", file=sys.stderr, flush=True)


def turns(waits: list[int], rounds: int) -> list[tuple[int, int]]:
    """(round, wait) in run order: every other round reversed, so neither value always goes
    first on a machine that warms up or loads up as the run goes."""
    order: list[tuple[int, int]] = []
    for r in range(rounds):
        for wait in waits if r % 2 == 0 else list(reversed(waits)):
            order.append((r, wait))
    return order


async def _one(wait_ms: int, settle_s: float, seconds: float) -> float:
    """ms of CPU per second of the idle worker's process tree."""
    stack = bench_stack(
        kafka_bootstrap=default_kafka_bootstrap(),
        pg_port=default_pg_port(),
        partitions=8,
        plan_time_scale=1.0,
        communities=["bench-idle"],
    )
    stack.extra_env["DISPATCH_CONSUMER_FETCH_MAX_WAIT_MS"] = str(wait_ms)
    await stack.create()
    try:
        worker = stack.start_worker()
        await asyncio.sleep(settle_s)
        if not worker.alive():
            raise RuntimeError(f"the worker exited during start-up:\n{worker.log_tail()}")
        pid = worker.popen.pid
        t0, ticks0 = time.monotonic(), tree_ticks(pid, read_stats())
        await asyncio.sleep(seconds)
        t1, ticks1 = time.monotonic(), tree_ticks(pid, read_stats())
        return 1000.0 * (ticks1 - ticks0) / tick_hz() / (t1 - t0)
    finally:
        await stack.cleanup()


async def run(waits: list[int], rounds: int, settle_s: float, seconds: float) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for r, wait in turns(waits, rounds):
        _say(f"round {r + 1}/{rounds}: fetch wait {wait} ms, {settle_s:g} s start-up")
        cpu = await _one(wait, settle_s, seconds)
        _say(f"round {r + 1}/{rounds}: fetch wait {wait} ms: {cpu:.1f} ms CPU per second")
        runs.append({"round": r + 1, "fetch_wait_ms": wait, "cpu_ms_per_s": round(cpu, 2)})
    medians = {
        str(w): round(
            statistics.median(x["cpu_ms_per_s"] for x in runs if x["fetch_wait_ms"] == w), 2
        )
        for w in waits
    }
    return {
        "bench": "idle",
        "seconds": seconds,
        "settle_s": settle_s,
        "median_cpu_ms_per_s": medians,
        "runs": runs,
    }


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--fetch-wait",
        type=positive_ints,
        default=[1500, 100],
        help="comma-separated DISPATCH_CONSUMER_FETCH_MAX_WAIT_MS values (default 1500,100)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--settle", type=float, default=25.0, help="seconds of start-up first")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds measured idle")
    parser.add_argument("--json", action="store_true", help="one line of JSON")


def main(args: Any) -> int:
    report = asyncio.run(run(args.fetch_wait, args.rounds, args.settle, args.seconds))
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0

"""Crash test, two workers: each in turn is SIGKILLed and stays dead until the survivor
serves its partitions (the survivor's rebalance path), then comes back (partitions move
again). Same load, same trace checks as test_crash.py, reconciler OFF. Prints one JSON line;
`takeover_s` is kill -> the survivor's first command on a dead worker's partition."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest

from dispatcher.testing.stack import LocalStack, Proc
from tests.integration.test_crash import COMMUNITIES, assert_clean, configure, settle_and_report
from tests.support import chaos
from tests.support.diagnosis import group_story, worker_story
from tests.support.waiting import eventually

SEED = 20261202
ROUNDS = 2  # each worker killed once


@pytest.fixture(scope="module")
async def running(stack: LocalStack) -> AsyncIterator[LocalStack]:
    configure(stack)
    await stack.start_api()
    yield stack


def owned_by(stack: LocalStack, worker: str) -> set[int]:
    lines = chaos.read_traces(stack.root / "trace").get(worker, [])
    owns = [line for line in lines if line["k"] == "own"]
    return set(owns[-1]["ps"]) if owns else set()


async def both_own(stack: LocalStack) -> None:
    async def split() -> bool:
        a, b = owned_by(stack, "worker-1"), owned_by(stack, "worker-2")
        return bool(a and b and len(a | b) == stack.partitions and not a & b)

    await eventually(split, timeout=120, what="both workers to own partitions")


def diagnosis(stack: LocalStack, procs: dict[str, Proc], survivor: str, since: float) -> str:
    """What to look at when the survivor never served: did it get the partitions (its
    `own` lines), which partitions it still served, the end of its log, and the broker's
    account of the group (did it rebalance after the kill, which generation, which leader)."""
    lines = chaos.read_traces(stack.root / "trace").get(survivor, [])
    owns = [line for line in lines if line["k"] == "own"][-3:]
    served = sorted({line["p"] for line in lines if line["k"] == "cmd" and line["at"] > since})
    return (
        f"{survivor}'s last ownership changes: {owns}; "
        f"partitions it served since the kill: {served}\n"
        + worker_story(procs[survivor])
        + "\n"
        + group_story(stack.app_id)
    )


async def test_survivor_takes_over_across_sigkills(running: LocalStack) -> None:
    stack = running
    rng = random.Random(SEED)
    load = chaos.Load(COMMUNITIES, min_requests=600)
    procs: dict[str, Proc] = {w: stack.start_worker(w) for w in ("worker-1", "worker-2")}
    takeover: list[float] = []
    stop_load, stop_answers = asyncio.Event(), asyncio.Event()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        helpers = await chaos.roster(client, load)
        answers = asyncio.create_task(
            chaos.answer(stack, load, helpers, client, stop_answers, SEED + 2)
        )
        submitter = asyncio.create_task(chaos.submit(client, load, stop_load, SEED + 1))
        await both_own(stack)
        for victim, survivor in [("worker-2", "worker-1"), ("worker-1", "worker-2")][:ROUNDS]:
            await asyncio.sleep(rng.uniform(3.0, 6.0))
            theirs = owned_by(stack, victim)
            procs[victim].kill()
            killed_at = time.time()

            async def served(
                survivor: str = survivor, theirs: set[int] = theirs, since: float = killed_at
            ) -> float:
                lines = chaos.read_traces(stack.root / "trace").get(survivor, [])
                t = chaos.first_command_after(lines, since, theirs)
                return 0.0 if math.isnan(t) else t

            t = await eventually(
                served,
                timeout=120,
                what=f"{survivor} to serve {theirs}",
                explain=partial(diagnosis, stack, procs, survivor, killed_at),
            )
            takeover.append(round(t - killed_at, 2))
            procs[victim] = stack.start_worker(victim)
            await both_own(stack)
        stop_load.set()
        await submitter
        report = await settle_and_report(stack, load, answers, stop_answers)
    report["kills"] = len(takeover)
    report["takeover_s"] = takeover
    report.update(chaos.deadline_lateness(chaos.read_traces(stack.root / "trace")))
    print("\ncrash test (two workers):", json.dumps(report, sort_keys=True))
    assert_clean(report, expected_kills=ROUNDS)

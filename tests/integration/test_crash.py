"""Crash test: one worker SIGKILLed 10 times under a mixed load, half of the kills inside
the recovery that follows a restart, with the API's reconciler OFF.

The worker traces every command it processed (partition, offset, command id) after its state
is stored. Afterwards: every offset of `commands` was processed at least once, no worker
skipped forward inside one ownership, the group committed exactly the end offsets, every
acknowledged request is recorded and terminal, no slot filled twice, no helper assigned
twice, no event recorded twice. `pytest tests/integration/test_crash.py -s` prints one JSON
line with the counts, resume time per kill and deadline lateness after restarts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack, Proc
from tests.support import chaos
from tests.support.waiting import eventually

KILLS = int(os.environ.get("CRASH_KILLS", "10"))
SEED = int(os.environ.get("CRASH_SEED", "20261201"))
COMMUNITIES = [f"crash-{i}" for i in range(6)]


def configure(stack: LocalStack) -> None:
    # The whole ladder in seconds: critical ends after ~9 s, urgent after ~26 s.
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = "0.0012"
    stack.extra_env["DISPATCH_RECONCILE_ENABLED"] = "false"  # it must hold without it
    stack.extra_env["DISPATCH_TRACE_DIR"] = str(stack.root / "trace")
    if os.environ.get("CRASH_UNPATCHED"):  # diagnostics: show what unpatched Faust does
        stack.extra_env["DISPATCH_FAUST_OFFSET_FIXES"] = "false"
    if os.environ.get("CRASH_STORE"):  # e.g. rocksdb:// to compare stores
        stack.extra_env["DISPATCH_FAUST_STORE"] = os.environ["CRASH_STORE"]
    stack.bot_communities.update(COMMUNITIES)


@pytest.fixture(scope="module")
async def running(stack: LocalStack) -> AsyncIterator[LocalStack]:
    configure(stack)
    await stack.start_api()
    yield stack


async def wait_processing(stack: LocalStack, since: float) -> None:
    """Until the worker has processed a command after `since` (it serves again)."""
    trace = stack.root / "trace" / "trace-worker-1.jsonl"

    async def processed() -> bool:
        lines = chaos.read_traces(trace.parent).get("worker-1", [])
        return not math.isnan(chaos.first_command_after(lines, since, set(range(8))))

    await eventually(processed, timeout=120, what="the restarted worker to process commands")


async def kill_and_restart(
    stack: LocalStack, box: dict[str, Proc], rng: random.Random, kills: list[dict[str, float]]
) -> None:
    """Pairs of kills: one 4-8 s after the worker serves again, then one 1-4 s after that
    restart, while the backlog of the first outage is still being recovered."""
    await wait_processing(stack, 0.0)
    for n in range(KILLS):
        in_recovery = n % 2 == 1
        if in_recovery:
            await asyncio.sleep(rng.uniform(1.0, 4.0))
        else:
            await wait_processing(stack, kills[-1]["killed_at"] if kills else 0.0)
            await asyncio.sleep(rng.uniform(4.0, 8.0))
        box["worker"].kill()  # SIGKILL: no goodbye, no commit, no flush
        killed_at = time.time()
        box["worker"] = stack.start_worker("worker-1")
        kills.append({"killed_at": killed_at, "in_recovery": float(in_recovery)})
    await wait_processing(stack, kills[-1]["killed_at"])


async def test_nothing_acknowledged_is_lost_across_sigkills(running: LocalStack) -> None:
    stack = running
    rng = random.Random(SEED)
    load = chaos.Load(COMMUNITIES)
    box = {"worker": stack.start_worker("worker-1")}
    kills: list[dict[str, float]] = []
    stop_load = asyncio.Event()
    stop_answers = asyncio.Event()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        helpers = await chaos.roster(client, load)
        answers = asyncio.create_task(
            chaos.answer(stack, load, helpers, client, stop_answers, SEED + 2)
        )
        submitter = asyncio.create_task(chaos.submit(client, load, stop_load, SEED + 1))
        await kill_and_restart(stack, box, rng, kills)
        stop_load.set()
        await submitter
        report = await settle_and_report(stack, load, answers, stop_answers)
    report["kills"] = len(kills)
    traces = chaos.read_traces(stack.root / "trace")
    lines = traces.get("worker-1", [])
    report["resume_s"] = [
        round(
            chaos.first_command_after(lines, k["killed_at"], set(range(stack.partitions)))
            - k["killed_at"],
            2,
        )
        for k in kills
    ]
    report.update(chaos.deadline_lateness(traces))
    print("\ncrash test:", json.dumps(report, sort_keys=True))
    assert_clean(report, expected_kills=KILLS)


async def settle_and_report(
    stack: LocalStack,
    load: chaos.Load,
    answers: asyncio.Task[None],
    stop_answers: asyncio.Event,
) -> dict[str, object]:
    """Wait until every request is terminal and the group committed the end offsets."""
    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def all_terminal() -> bool:
            n = await conn.fetchval(
                "SELECT count(*) FROM requests WHERE request_id = ANY($1)"
                " AND closed_at IS NOT NULL",
                load.acked,
            )
            return n == len(load.acked)

        try:
            await eventually(all_terminal, timeout=240, every=1, what="every request terminal")
        except AssertionError:
            pass  # counted and reported: not_terminal > 0
        finally:
            stop_answers.set()
            await answers
        counts = await chaos.outcome(conn, load.acked)
        counts["reconciler_resends"] = await conn.fetchval(
            "SELECT coalesce(sum(resent), 0) FROM api_intake WHERE request_id = ANY($1)",
            load.acked,
        )
    finally:
        await conn.close()

    async def committed_at_end() -> dict[str, object] | None:
        ends = await chaos.end_offsets(stack)
        committed = await chaos.committed_offsets(stack)
        if all(committed.get(p) == end for p, end in ends.items() if end):
            return {"ends": ends, "committed": committed}
        return None

    try:
        offsets = await eventually(committed_at_end, timeout=60, every=1, what="commits")
        counts["committed_equals_end"] = True
    except AssertionError:
        offsets = {
            "ends": await chaos.end_offsets(stack),
            "committed": await chaos.committed_offsets(stack),
        }
        counts["committed_equals_end"] = False
        counts["offsets"] = offsets
    traces = chaos.read_traces(stack.root / "trace")
    counts.update(chaos.offset_report(traces, dict(offsets["ends"])))  # type: ignore[arg-type]
    counts["commands"] = dict(load.answers)
    return counts


def assert_clean(report: dict[str, object], expected_kills: int) -> None:
    assert report["kills"] == expected_kills
    assert report["lost"] == 0
    assert report["not_terminal"] == 0
    assert report["double_assigned"] == 0
    assert report["helper_assigned_twice"] == 0
    assert report["duplicate_events"] == 0
    assert report["offset_gaps"] == 0
    assert report["unprocessed_offsets"] == {}
    assert report["committed_equals_end"] is True
    assert report["reconciler_resends"] == 0
    assert report["assigned"] > 0  # the answers really exercised accepts
    commands = report["commands"]
    assert isinstance(commands, dict)
    for kind in (
        "accept_offer",
        "decline_offer",
        "resolve_request",
        "cancel_request",
        "upsert_helper",
    ):
        assert commands.get(kind, 0) > 0, kind

"""A worker whose partitions move to another worker stops sending their queued pushes
(streams/notify.py `Notifier.withdraw_moved`; session 34).

Before: a rebalance let the `events` records go unacknowledged (session 33), and the worker
went on sending its whole queue of pushes for the partitions it had lost while their new
owner, reading those records again from the committed offset, sent them too: behind a slow
or rate-limited endpoint every queued push went twice (a group robot posted each offer in
the chat twice). Now, at the new assignment, what is still queued for the moved partitions
is withdrawn; only sends already in flight go on.

Each community's helpers are reached through their own endpoint, rate limited so that one
welcome goes at once and the rest queue (a welcome may wait 30 minutes: no deadline runs
out during the test), and its lane in the worker's /stats says what is queued there.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import asyncpg
import httpx

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack, Proc
from tests.integration.test_crash_two_workers import both_own, owned_by
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITIES = [f"moved-{p}" for p in range(4)]  # placed: community p on partition p
PER_COMMUNITY = 4  # welcomes per community: one sent at once, three queued


def endpoint(phones: PushReceiver, p: int) -> dict[str, Any]:
    return {
        "name": f"phones-{p}",
        "kind": "webhook",
        "url": phones.url(f"/phones-{p}"),
        "secret": SECRET,
        "rate_per_minute": 0.01,  # one token now (burst 1), the next in 100 minutes
        "burst": 1,
    }


async def queued(stack: LocalStack, proc: Proc) -> dict[int, int] | None:
    """Per partition (its community's endpoint), the pushes the worker has queued."""
    stats = await stack.worker_stats(proc)
    if stats is None:
        return None
    return {
        int(lane["endpoint"].removeprefix("phones-")): lane["queued"] + lane["waiting_retry"]
        for lane in stats.get("lanes", [])
    }


async def welcome(stack: LocalStack, community: str) -> None:
    """`python -m dispatcher welcome`, not waiting for the outcomes (they queue)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dispatcher", "welcome", "--community", community, "--wait", "0"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    # 1: the outcomes not yet confirmed (--wait 0); the welcomes are queued either way.
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["to_welcome"] == PER_COMMUNITY, done.stdout


async def welcomes_queued_at_one_worker(stack: LocalStack, endpoints: str) -> Proc:
    """The API and worker-1 (reaching phones through `endpoints`), owning every partition;
    PER_COMMUNITY helpers in each community, on its endpoint; everyone welcomed (the
    welcomes queue behind the limits)."""
    stack.extra_env.update(
        {
            "DISPATCH_PUSH_ENDPOINTS": endpoints,
            "DISPATCH_TRACE_DIR": str(stack.root / "trace"),
            "DISPATCH_RECONCILE_ENABLED": "false",
            "DISPATCH_COMMUNITY_PARTITIONS": json.dumps({c: p for p, c in enumerate(COMMUNITIES)}),
        }
    )
    assert stack.partitions == len(COMMUNITIES)
    await stack.start_api()
    first = stack.start_worker("worker-1")

    async def owns_all() -> bool:
        return len(owned_by(stack, "worker-1")) == stack.partitions

    await eventually(owns_all, timeout=120, what="worker-1 to own every partition")

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for p, community in enumerate(COMMUNITIES):
                for i in range(PER_COMMUNITY):
                    hid = f"{community}-h{i}"
                    h = builders.helper(hid, community, ["driving"], channels=[f"phones-{p}"])
                    r = await client.put(f"/v1/admin/helpers/{hid}", json=h, headers=STAFF)
                    assert r.status_code == 202, r.text

        async def recorded() -> bool:
            n = await conn.fetchval(
                "SELECT count(*) FROM helpers WHERE community_id = ANY($1::text[])",
                COMMUNITIES,
            )
            return int(n) == PER_COMMUNITY * len(COMMUNITIES)

        await eventually(recorded, timeout=120, what="the helpers recorded")
    finally:
        await conn.close()
    for community in COMMUNITIES:
        await welcome(stack, community)

    return first


async def test_a_worker_stops_sending_the_queued_pushes_of_partitions_it_lost(
    stack: LocalStack,
) -> None:
    async with PushReceiver() as phones:
        first = await welcomes_queued_at_one_worker(
            stack, json.dumps([endpoint(phones, p) for p in range(len(COMMUNITIES))])
        )

        every_lane_backed_up = dict.fromkeys(range(len(COMMUNITIES)), PER_COMMUNITY - 1)

        async def backed_up(proc: Proc, expected: dict[int, int]) -> bool:
            got = await queued(stack, proc)
            return got is not None and all(got.get(p) == n for p, n in expected.items())

        def arrived() -> list[int]:
            return [len(phones.for_path(f"/phones-{p}")) for p in range(len(COMMUNITIES))]

        async def first_sent_rest_queued() -> bool:
            # The first welcome's POST may still be in flight when the rest are queued.
            return await backed_up(first, every_lane_backed_up) and min(arrived()) >= 1

        await eventually(
            first_sent_rest_queued,
            timeout=120,
            what=f"worker-1 to send one welcome and queue {PER_COMMUNITY - 1} on each endpoint",
        )
        assert arrived() == [1] * len(COMMUNITIES)

        stack.start_worker("worker-2")
        # Worker-1 traces its new partitions once their state is rebuilt, after Faust's
        # assignment signal (the withdrawal) has run.
        await both_own(stack)
        kept, moved = owned_by(stack, "worker-1"), owned_by(stack, "worker-2")

        async def new_owner_sends() -> bool:
            # Worker-2 read the moved partitions' records again from the committed offset and
            # sent the first welcome it found (its own bucket's token) on each endpoint.
            return all(len(phones.for_path(f"/phones-{p}")) == 2 for p in moved)

        await eventually(
            new_owner_sends,
            timeout=120,
            what=f"worker-2 to push the welcomes of partitions {sorted(moved)}",
            explain=lambda: first.log_path.read_text(errors="replace")[-3000:],
        )
        # Worker-1 sends none of the moved partitions' welcomes any more (before: 3 each,
        # sent by worker-2 too), and keeps its own partitions' queue as it was.
        assert await queued(stack, first) == {
            p: (PER_COMMUNITY - 1 if p in kept else 0) for p in range(len(COMMUNITIES))
        }
        log = first.log_path.read_text(errors="replace")
        assert "partitions moved to another worker" in log, log[-3000:]

"""A worker resumed after a stop long enough to be expelled sends none of the pushes it had
queued (streams/stall_gate.py; session 35).

Before: the broker expelled the stopped worker, the other worker took its partitions over and
pushed their events again from the committed offsets; on SIGCONT the stopped worker's push
lanes went on sending their queue until its rejoin's assignment withdrew it (a second or
more), and a partition it got back kept its queue as it stood: the same pushes twice. Now
its pushes wait after such a stall until a heartbeat confirms it is still the same member or
its next assignment has run, and an assignment after missed generations withdraws all.

Each worker reaches the helpers through its own URLs (`/w1/…`, `/w2/…`, same endpoint
names), so the receiver tells who sent what. Worker-1's endpoints are rate limited (one
push at once, the next a minute later: far beyond the set-up's time, so each lane still holds
welcomes when it is stopped): its welcomes queue, and by the time it resumes its buckets hold
a token each, which the old lanes spent at once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.integration.test_crash_two_workers import both_own, owned_by
from tests.integration.test_moved_pushes_s34 import (
    COMMUNITIES,  # placed: community p on partition p
    PER_COMMUNITY,  # welcomes per community: worker-1 sends one at once, queues three
    SECRET,
    queued,
    welcomes_queued_at_one_worker,
)
from tests.support import chaos
from tests.support.waiting import eventually

TOKEN_EVERY_S = 60.0  # worker-1's rate limit: 1 a minute, burst 1


def endpoints(phones: PushReceiver, worker: str, rate_per_minute: float | None) -> str:
    found: list[dict[str, Any]] = []
    for p in range(len(COMMUNITIES)):
        e: dict[str, Any] = {
            "name": f"phones-{p}",
            "kind": "webhook",
            "url": phones.url(f"/{worker}/phones-{p}"),
            "secret": SECRET,
        }
        if rate_per_minute is not None:
            e |= {"rate_per_minute": rate_per_minute, "burst": 1}
        found.append(e)
    return json.dumps(found)


def sent(phones: PushReceiver, worker: str, p: int) -> int:
    return len(phones.for_path(f"/{worker}/phones-{p}"))


async def test_a_worker_resumed_after_being_expelled_sends_none_of_its_queued_pushes(
    stack: LocalStack,
) -> None:
    async with PushReceiver() as phones:
        first = await welcomes_queued_at_one_worker(
            stack, endpoints(phones, "w1", 60 / TOKEN_EVERY_S)
        )

        async def backed_up() -> bool:
            # Each welcome arrived or waits in its lane (none in flight), some waiting. One
            # sent and three queued, unless the set-up outlasted a token (then still exact).
            got = await queued(stack, first)
            return got is not None and all(
                got.get(p, 0) >= 1 and got[p] + sent(phones, "w1", p) == PER_COMMUNITY
                for p in range(len(COMMUNITIES))
            )

        await eventually(backed_up, timeout=120, what="worker-1 to queue welcomes per endpoint")
        last_w1_send = max(r.at for r in phones.received)

        # Worker-2 reaches the same helpers through its own, unlimited, URLs.
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = endpoints(phones, "w2", None)
        second = stack.start_worker("worker-2")
        await both_own(stack)
        kept = owned_by(stack, "worker-1")

        first.popen.send_signal(signal.SIGSTOP)
        try:
            at_stop = {p: sent(phones, "w1", p) for p in kept}

            async def taken_over() -> bool:
                # Worker-2 was given worker-1's partitions (the broker expelled it) and
                # pushed their welcomes from the committed offsets: at least those worker-1
                # had not sent.
                return owned_by(stack, "worker-2") == set(range(stack.partitions)) and all(
                    sent(phones, "w2", p) >= PER_COMMUNITY - at_stop[p] for p in kept
                )

            await eventually(
                taken_over,
                timeout=120,
                what=f"worker-2 to take {sorted(kept)} over and push their welcomes",
                explain=lambda: second.log_path.read_text(errors="replace")[-3000:],
            )
            events_topic = "DISPATCH_EVENTS_TOPIC"

            async def all_committed() -> bool:
                # So that whoever owns a partition next has none of these records to read.
                ends = await chaos.end_offsets(stack, events_topic)
                done = await chaos.committed_offsets(stack, events_topic)
                return all(done.get(p, -1) >= ends[p] for p in ends)

            await eventually(all_committed, timeout=60, what="worker-2 to commit the events")
            # Worker-1's buckets hold a token again (monotonic time runs on while stopped).
            await asyncio.sleep(max(0.0, last_w1_send + TOKEN_EVERY_S + 2 - time.monotonic()))
            w1_before = {p: sent(phones, "w1", p) for p in range(len(COMMUNITIES))}
        finally:
            first.popen.send_signal(signal.SIGCONT)
        resumed_at = time.time()

        async def rejoined_and_empty() -> bool:
            lines = chaos.read_traces(stack.root / "trace").get("worker-1", [])
            owns = any(x["k"] == "own" and x["at"] > resumed_at for x in lines)
            return owns and await queued(stack, first) in (
                {},
                dict.fromkeys(range(len(COMMUNITIES)), 0),
            )

        await eventually(
            rejoined_and_empty,
            timeout=120,
            what="worker-1 to rejoin with nothing queued",
            explain=lambda: first.log_path.read_text(errors="replace")[-3000:],
        )
        # Nothing sent by worker-1 since it was stopped (before: one welcome on each
        # endpoint of its partitions at SIGCONT, each already pushed by worker-2).
        assert {p: sent(phones, "w1", p) for p in range(len(COMMUNITIES))} == w1_before
        stats = await stack.worker_stats(first)
        assert stats is not None and stats["push_stalls"]["stalls"] >= 1, stats
        log = first.log_path.read_text(errors="replace")
        assert "rejoined after missed rebalances" in log, log[-3000:]

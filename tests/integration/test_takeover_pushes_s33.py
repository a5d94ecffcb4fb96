"""A takeover while the survivor's own pushes are still in flight (streams/faust_stop.py,
streams/faust_consumer.py; session 33).

Before: a rebalance waited in Faust's revoke (`Consumer.wait_empty`) until every record the
streams held was acknowledged, and the notify agent acknowledges an `events` record only once
its pushes have settled. Behind a slow receiver (a chaos run with pushes answered after 2-5 s
at 20 requests/s: minutes of queued pushes) the survivor of a SIGKILL served nothing, on the
dead worker's partitions or its own, until its push queue had drained; the broker expelled it
after the rebalance timeout and the next generation stalled again. Now a rebalance lets those
records go after a moment, unacknowledged (so uncommitted), their pushes going on.

Here the push receiver holds every push (none settles), one of the survivor's offers is in
flight, and the other worker is SIGKILLed: the survivor must serve the dead worker's
partitions while that push is still unanswered, without committing its record; let go, the
push is delivered.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from functools import partial
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack, Proc
from schemas.event_batch import decode_events
from streams.faust_consumer import ContiguousConsumer
from streams.offsets import SeekGuard
from tests.integration.test_crash_two_workers import both_own, diagnosis, owned_by
from tests.support import builders, chaos
from tests.support.bot import BotClient
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITIES = [f"takeover-{p}" for p in range(4)]  # placed: community i on partition i


async def first_records(stack: LocalStack, event_ids: set[str]) -> dict[int, int]:
    """Per partition, the offset of the first `events` record with one of `event_ids`."""
    topic = stack.env()["DISPATCH_EVENTS_TOPIC"]
    tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    first: dict[int, int] = {}
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, 0)  # retention keeps everything for the test's few minutes
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for msg in batch.get(tp, []):
                    if any(e.event_id in event_ids for e in decode_events(msg.value)):
                        first.setdefault(tp.partition, msg.offset)
    finally:
        await consumer.stop()
    return first


async def test_the_survivor_takes_over_while_its_own_pushes_are_in_flight(
    stack: LocalStack,
) -> None:
    async with PushReceiver() as phones:
        # Held pushes stay in flight for the whole test: the sender waits up to 60 s a call.
        endpoint = {
            "name": "phones",
            "kind": "webhook",
            "url": phones.url("/phones"),
            "secret": SECRET,
            "timeout_seconds": 60,
        }
        stack.extra_env.update(
            {
                "DISPATCH_PUSH_ENDPOINTS": json.dumps([endpoint]),
                "DISPATCH_TRACE_DIR": str(stack.root / "trace"),
                "DISPATCH_RECONCILE_ENABLED": "false",
                # Pushed from their records only: a push in flight is then a record the
                # survivor's notify stream holds unacknowledged when the rebalance comes (an
                # early push may go out before its record is read back).
                "DISPATCH_NOTIFY_EARLY": "false",
                "DISPATCH_COMMUNITY_PARTITIONS": json.dumps(
                    {c: p for p, c in enumerate(COMMUNITIES)}
                ),
            }
        )
        stack.bot_communities.update(COMMUNITIES)
        await stack.start_api()
        procs: dict[str, Proc] = {w: stack.start_worker(w) for w in ("worker-1", "worker-2")}
        await both_own(stack)
        survivor, victim = "worker-1", "worker-2"
        mine, theirs = owned_by(stack, survivor), owned_by(stack, victim)
        held_partition = min(mine)

        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for community in COMMUNITIES:
                h = builders.helper(f"{community}-ann", community, ["driving"], channels=["phones"])
                r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
                assert r.status_code == 202, r.text

            phones.hold("/phones")  # no push settles from now on
            r = await BotClient(client).post(
                "/v1/requests", builders.request(COMMUNITIES[held_partition])
            )
            assert r.status_code == 202, r.text
            await phones.wait_for(lambda: phones.in_flight("/phones") >= 1, timeout=60)
            held = {str(x.webhook_id) for x in phones.for_path("/phones")}

            procs[victim].kill()
            killed_at = time.time()
            for p in sorted(theirs):  # commands for the dead worker's partitions
                r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITIES[p]))
                assert r.status_code == 202, r.text

            async def served() -> float:
                lines = chaos.read_traces(stack.root / "trace").get(survivor, [])
                t = chaos.first_command_after(lines, killed_at, theirs)
                return 0.0 if math.isnan(t) else t

            # Before: the survivor's revoke waited for the held push, so this never came
            # while the push was held (the receiver holds it for as long as the test runs).
            await eventually(
                served,
                timeout=120,
                what=f"{survivor} to serve {sorted(theirs)} while its push is held",
                explain=partial(diagnosis, stack, procs, survivor, killed_at),
            )
            # Served while the survivor's push is still in flight, none of it answered.
            assert phones.in_flight("/phones") >= 1
            assert not any(phones.accepted[i] for i in held)
            log = procs[survivor].log_path.read_text(errors="replace")
            assert "records whose pushes are still in flight let go" in log, log[-4000:]

            # Let go, not acknowledged: no record with a held push is committed over.
            # (A delivery id is its event's id, or the event's id and a number.)
            first = await first_records(stack, {i.split(":")[0] for i in held})
            assert held_partition in first, (sorted(held), first)
            committed = await chaos.committed_offsets(stack, "DISPATCH_EVENTS_TOPIC")
            for p in mine:
                if p in first:
                    assert committed.get(p, 0) <= first[p], (p, committed, first)

            phones.let_go("/phones")  # the push arrives (the survivor kept its partition)
            await phones.wait_for(lambda: all(phones.accepted[i] for i in held), timeout=120)


def test_a_revoke_forgetting_the_committed_offset_commits_no_out_of_order_ack() -> None:
    """Faust's revoke drops the committed offsets, then waits for the streams and commits
    what they acknowledge meanwhile. The notify agent acknowledges `events` records as their
    pushes settle, out of order: a later record acknowledged while an earlier one's push is
    still in flight must not be committed (before: the first acknowledgement was taken for
    the head, and the commit passed the record still in flight)."""
    events = TP("events", 2)
    consumer: Any = ContiguousConsumer.__new__(ContiguousConsumer)
    consumer.guard = SeekGuard(contiguous_topics=frozenset({"events"}))
    consumer._committed_offset = defaultdict(lambda: None)
    consumer._acked = defaultdict(list)
    consumer._acked_index = defaultdict(set)

    consumer._committed_offset[events] = 134  # committed: 134 is the next record
    consumer._acked[events] = [136]  # 134 and 135 still pushing
    assert consumer._new_offset(events) is None

    # Faust's `on_partitions_revoked`: forgets the partition's bookkeeping, then waits.
    for bookkeeping in (consumer._acked, consumer._acked_index, consumer._committed_offset):
        bookkeeping.pop(events, None)
    consumer._acked[events].append(137)  # a push settled during the wait
    assert consumer._new_offset(events) is None  # 134..136 not all acknowledged

    consumer._acked[events] += [134, 135, 136]  # they settle too
    assert consumer._new_offset(events) == 138

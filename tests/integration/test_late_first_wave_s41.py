"""A request posted while the worker is down gets a first wave with its whole time (session
41), through the real stack: the API, Kafka, the worker (its dispatch agent, deadline timer
and notify agent), PostgreSQL, pushes to a local receiver. The ladder runs 100 times faster
(`DISPATCH_PLAN_TIME_SCALE=0.01`: a critical request's first rung waits 0.2 s, an offer's
time is 6 s); every wait is on what the stack records or pushes.

Before: the worker, back, decided the queued submit at the API's stamp: the first offers were
sent as of the intake, their 6 s already gone, and the timer's first tick expired them (each
helper charged "no answer") as it climbed. Now the submit is decided from the copy the agent
sends when it reads it (streams/late_commands.py): the first offers run from then, and
nobody is charged before their time is up; the request still opens at the intake."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import httpx

from dispatcher.clock import utcnow
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Urgency
from tests.support.phones_s39 import Phones, module_phones, new_request, put_helper
from tests.support.waiting import eventually

SCALE = 0.01
COMMUNITY = "late-first"


run, api = module_phones(SCALE, COMMUNITY)


async def test_a_request_posted_while_the_worker_is_down_gets_a_first_wave_with_its_whole_time(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await put_helper(client, "ann", COMMUNITY, "13700000011")
    await put_helper(client, "bob", COMMUNITY, "13700000012")

    async def both() -> bool:
        n = await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", COMMUNITY)
        return n == 2

    await eventually(both, what="ann and bob on the worker's roster")
    run.worker.stop()  # down: the critical request comes in and waits in Kafka
    rid = await new_request(client, COMMUNITY)  # critical: its first rung asks the grid
    asked = utcnow()
    plan = DEFAULT_PLANS[Urgency.CRITICAL]
    ttl = timedelta(seconds=plan.offer_ttl_s * SCALE)
    # The outage: past the first rung's wait and past the first offers' whole time.
    await asyncio.sleep((plan.steps[0].wait_s + plan.offer_ttl_s) * SCALE + 1)
    back = utcnow()
    assert back > asked + ttl
    run.worker = run.stack.start_worker()
    await run.receiver.wait_for(
        lambda: bool(run.to("ann", rid, "offer") and run.to("bob", rid, "offer")), timeout=60
    )

    async def first_wave() -> list[asyncpg.Record] | None:
        rows = await db.fetch(
            "SELECT helper_id, sent_at, expires_at FROM offers"
            " WHERE request_id = $1 AND step = 0 ORDER BY helper_id",
            rid,
        )
        return rows if len(rows) == 2 else None

    first = await eventually(first_wave, what="the first wave recorded")
    assert [r["helper_id"] for r in first] == ["ann", "bob"], first
    # Sent once the worker was back, with their whole time from then (before: at the intake,
    # expired before the worker came back).
    assert all(r["sent_at"] >= back and r["expires_at"] - r["sent_at"] == ttl for r in first)
    query = "SELECT occurred_at, body FROM event_log WHERE request_id = $1 AND type = $2"

    async def whistled() -> list[asyncpg.Record]:  # two climbs decided since the worker is back
        rows = await db.fetch(query, rid, "ring_escalated")
        return [r for r in rows if json.loads(r["body"])["to_ring"] == "whistle"]

    await eventually(whistled, what="the ladder's climb to the whistle")
    # The first offers' time is not up yet: nobody counted unanswered, charged "no answer"
    # (before: expired at the worker's first tick).
    now = utcnow()
    # (Before session 41 it was up before the worker came back.)
    assert now < min(r["expires_at"] for r in first), "the first offers' time is up"
    assert await db.fetch(query, rid, "offer_expired") == []
    statuses = await db.fetch("SELECT status FROM offers WHERE request_id = $1 AND step = 0", rid)
    assert {r["status"] for r in statuses} == {"sent"}  # open, not expired
    # Opened at the intake: its time to the first offer counts the outage.
    row = await db.fetchrow(
        "SELECT opened_at, first_offer_at FROM requests WHERE request_id = $1", rid
    )
    assert row["opened_at"] < back <= row["first_offer_at"], row

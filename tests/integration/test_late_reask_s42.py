"""A helper released as a no-show while the worker is down: the neighbour asked in their
place, once the worker is back, gets an offer with its whole time (session 42), through the
real stack: the API (staff's no-show route), Kafka, the worker (its dispatch agent, deadline
timer and notify agent), PostgreSQL, pushes to a local receiver. The ladder runs 1000 times
faster (`DISPATCH_PLAN_TIME_SCALE=0.001`: a normal request's offer has 7.2 s, its building
rung waits 1.8 s); every wait is on what the stack records or pushes.

Before: the worker, back, decided the queued withdrawal at the API's stamp: the re-ask went
out as of the press, its 7.2 s gone before it was pushed (recorded sent and expiring before
the worker came back), and the timer's next tick expired it, charging the neighbour "no
answer". Now the withdrawal is decided from the copy the agent sends when it reads it
(streams/late_commands.py): the re-ask runs from then."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlparse

import asyncpg
import httpx

from dispatcher.clock import utcnow
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Urgency
from tests.support.phones_s39 import STAFF, Phones, module_phones, new_request, put_helper
from tests.support.waiting import eventually

SCALE = 0.001
COMMUNITY = "late-reask"
HELPERS = ("ra", "rb")  # both in the request's building: the building rung asks one

run, api = module_phones(SCALE, COMMUNITY)


async def test_a_no_show_released_while_the_worker_is_down_re_asks_with_the_whole_time(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for i, hid in enumerate(HELPERS):
        await put_helper(client, hid, COMMUNITY, f"1370000002{i}")

    async def both() -> bool:
        n = await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", COMMUNITY)
        return n == len(HELPERS)

    await eventually(both, what="both helpers on the worker's roster")
    rid = await new_request(client, COMMUNITY, urgency="normal")
    await run.receiver.wait_for(lambda: any(run.to(h, rid, "offer") for h in HELPERS), timeout=30)
    gone, other = HELPERS if run.to(HELPERS[0], rid, "offer") else HELPERS[::-1]
    accepted = await client.post(urlparse(run.to(gone, rid, "offer")[0]["accept_url"]).path)
    assert accepted.status_code == 200, accepted.text

    async def held() -> bool:
        n = await db.fetchval(
            "SELECT count(*) FROM assignments WHERE request_id = $1 AND helper_id = $2",
            rid,
            gone,
        )
        return bool(n)

    await eventually(held, what="the assignment recorded")
    assert not run.to(other, rid, "offer")  # filled: nobody else asked yet

    run.worker.stop()  # down: staff release the no-show, the command waits in Kafka
    r = await client.post(f"/ops/v1/requests/{rid}/helpers/{gone}/no-show", headers=STAFF)
    assert r.status_code == 202, r.text
    plan = DEFAULT_PLANS[Urgency.NORMAL]
    ttl = timedelta(seconds=plan.offer_ttl_s * SCALE)
    await asyncio.sleep(ttl.total_seconds() + 2)  # past a re-ask's whole time from the press
    back = utcnow()
    run.worker = run.stack.start_worker()
    await run.receiver.wait_for(lambda: bool(run.to(other, rid, "offer")), timeout=60)

    async def re_asked() -> asyncpg.Record | None:
        row: asyncpg.Record | None = await db.fetchrow(
            "SELECT sent_at, expires_at, status FROM offers"
            " WHERE request_id = $1 AND helper_id = $2",
            rid,
            other,
        )
        return row

    offer = await eventually(re_asked, what="the re-ask recorded")
    # Sent once the worker was back, with its whole time from then (before: at the press,
    # expiring before the worker came back).
    assert offer["sent_at"] >= back, (offer["sent_at"], back)
    assert abs((offer["expires_at"] - offer["sent_at"]) - ttl) < timedelta(milliseconds=1)
    # The timer has ticked since (the rung's wait from the re-ask, 1.8 s): nobody expired.
    await asyncio.sleep(plan.steps[1].wait_s * SCALE + 1)
    assert utcnow() < offer["expires_at"], "the re-ask's time is up"
    expired = await db.fetch(
        "SELECT 1 FROM event_log WHERE request_id = $1 AND type = 'offer_expired'", rid
    )
    assert expired == []
    status = await db.fetchval(
        "SELECT status FROM offers WHERE request_id = $1 AND helper_id = $2", rid, other
    )
    assert status == "sent"  # open, not expired

"""Offers decided late are not dead on arrival (session 39, audit_time), through the real
stack: the API, Kafka, the worker (its deadline timer, dispatch and notify agents),
PostgreSQL, pushes to a local receiver. The ladder runs 100 times faster
(`DISPATCH_PLAN_TIME_SCALE=0.01`); every wait is on what the stack records or pushes.

- An offer's link still works after the offer's own time while the request is open: the
  core takes the late answer, and the link now does too (signed until the request's end).
  Before: "链接已过期 / 这条邀请已过有效期" (410), though a press would have assigned her.
- A worker back from an outage goes on up the ladder from then: no rung is decided at a time
  it was down, and no offer it sends has expired before the worker came back. Before: each
  missed rung was decided at its own past due time, at once, its offers expired on arrival
  and the critical ladder burst to the emergency referral."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from dispatcher.clock import utcnow
from dispatcher.ops import district
from dispatcher.testing.stack import LocalStack
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Urgency
from tests.support.link_answers import press
from tests.support.phones_s39 import CONTACT_PHONE, Phones, new_request, phones, put_helper
from tests.support.waiting import eventually

SCALE = 0.01
LINKS = "late-links"  # ann alone: her offer runs out, the request stays open
LADDER = "late-ladder"  # near (the request's grid) and far (another grid of the community)


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[Phones]:
    async with phones(stack, SCALE, LINKS, LADDER) as running:
        yield running


@pytest.fixture(scope="module")
def api(run: Phones) -> LocalStack:
    return run.stack


async def test_an_offer_link_works_past_the_offers_time_while_the_request_is_open(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await put_helper(client, "ann", LINKS, "13700000001")
    rid = await new_request(client, LINKS, urgency="urgent")  # nobody takes it: it climbs
    await run.receiver.wait_for(lambda: bool(run.to("ann", rid, "offer")), timeout=60)
    [offer] = run.to("ann", rid, "offer")

    async def expired() -> bool:  # decided at or after its time: that time has passed
        status = await db.fetchval(
            "SELECT status FROM offers WHERE offer_id = $1", offer["offer_id"]
        )
        return status == "expired"

    await eventually(expired, what="ann's offer counted unanswered")
    assert await db.fetchval("SELECT closed_at FROM requests WHERE request_id = $1", rid) is None
    path = httpx.URL(offer["accept_url"]).raw_path.decode()
    page = await client.get(path)
    assert page.status_code == 200 and "已过有效期" not in page.text, page.text  # it invites
    accepted = await press(client, path)
    assert accepted.status_code == 200 and CONTACT_PHONE in accepted.text, accepted.text
    assigned = "SELECT count(*) FROM assignments WHERE request_id = $1 AND helper_id = 'ann'"

    async def recorded() -> bool:
        return bool(await db.fetchval(assigned, rid))

    await eventually(recorded, what="ann's late accept recorded")


async def test_a_worker_back_from_an_outage_goes_on_from_then(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await put_helper(client, "near", LADDER, "13700000002")
    far = district.place(LADDER, "g2", "c9", "b1", "远山小区", 1, household_id="h-far")
    await put_helper(client, "far", LADDER, "13700000003", place=far)

    async def both() -> bool:
        n = await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", LADDER)
        return n == 2

    await eventually(both, what="near and far on the worker's roster")
    run.worker.stop()  # down: the critical request comes in and its rungs fall due meanwhile
    rid = await new_request(client, LADDER)  # critical
    asked = utcnow()
    plan = DEFAULT_PLANS[Urgency.CRITICAL]
    missed = sum(s.wait_s for s in plan.steps[:-1]) + plan.offer_ttl_s  # to the referral
    await asyncio.sleep(missed * SCALE + 1)  # the outage: every rung but the last missed
    back = utcnow()
    assert back > asked + timedelta(seconds=missed * SCALE)
    run.worker = run.stack.start_worker()
    query = "SELECT occurred_at, body FROM event_log WHERE request_id = $1 AND type = $2"

    async def referred() -> list[asyncpg.Record]:
        rows = await db.fetch(query, rid, "ring_escalated")
        return [r for r in rows if json.loads(r["body"])["to_ring"] == "emergency"]

    await eventually(referred, what="the ladder's last rung, the emergency referral")
    climbed = await db.fetch(query, rid, "ring_escalated")
    # Each rung decided once the worker was back (before: at its own due time, while down).
    assert [r["occurred_at"] >= back for r in climbed] == [True] * len(climbed), climbed
    later = await db.fetch(
        "SELECT helper_id, sent_at, expires_at FROM offers WHERE request_id = $1 AND step >= 1",
        rid,
    )
    assert [r["helper_id"] for r in later] == ["far"]  # the community rung's offer
    # Sent after the worker came back, and not expired before it did (before: dead on arrival).
    assert all(r["sent_at"] >= back and r["expires_at"] > back for r in later), later

"""A stand-down is not pushed into a helper's do-not-disturb (session 39, audit_time), through
the real stack: the API, Kafka, the worker, PostgreSQL, pushes to a local receiver; the
ladder 20 times faster (`DISPATCH_PLAN_TIME_SCALE=0.05`).

An urgent request asks sleepy and awake (their building's rung); sleepy then goes quiet (a
do-not-disturb around the present hour, as she would set it on her page), and awake takes
the request: sleepy, who never took it, is not pushed "已有邻居接手…无需再来" inside her
do-not-disturb (before: she was). Staff then cancel: awake, on the way, is told. Both go
through the one endpoint, in order: once awake's cancellation is in, any push to sleepy
planned before it is in too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta, timezone

import asyncpg
import httpx
import pytest

from dispatcher.clock import utcnow
from dispatcher.testing.stack import LocalStack
from tests.support.link_answers import press
from tests.support.phones_s39 import CONTACT_PHONE, STAFF, Phones, new_request, phones, put_helper
from tests.support.waiting import eventually

COMMUNITY = "dnd-stand-down"
PHONES = {"sleepy": "13700000011", "awake": "13700000012"}


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[Phones]:
    async with phones(stack, 0.05, COMMUNITY) as running:
        yield running


@pytest.fixture(scope="module")
def api(run: Phones) -> LocalStack:
    return run.stack


def around_now() -> dict[str, str]:
    """A do-not-disturb window from an hour ago to an hour ahead, on the helper's clock
    (UTC+8, the default offset; the community has no zone of its own)."""
    local = utcnow().astimezone(timezone(timedelta(hours=8)))
    return {
        "start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "end": (local + timedelta(hours=1)).strftime("%H:%M"),
    }


async def test_a_neighbour_gone_quiet_is_not_told_the_one_on_the_way_is(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for hid in PHONES:
        await put_helper(client, hid, COMMUNITY, PHONES[hid])
    rid = await new_request(client, COMMUNITY, urgency="urgent", helpers_needed=1)
    await run.receiver.wait_for(lambda: all(run.to(h, rid, "offer") for h in PHONES), timeout=60)
    quiet = around_now()  # she goes quiet
    await put_helper(client, "sleepy", COMMUNITY, PHONES["sleepy"], do_not_disturb=quiet)
    [offer] = run.to("awake", rid, "offer")
    accepted = await press(client, httpx.URL(offer["accept_url"]).raw_path.decode())
    assert accepted.status_code == 200 and CONTACT_PHONE in accepted.text, accepted.text
    stood = "SELECT status FROM offers WHERE request_id = $1 AND helper_id = 'sleepy'"

    async def stood_down() -> bool:
        return await db.fetchval(stood, rid) == "stood_down"

    await eventually(stood_down, what="sleepy's offer stood down")
    r = await client.post(f"/ops/v1/requests/{rid}/cancel", headers=STAFF)
    assert r.status_code == 202, r.text
    await run.receiver.wait_for(lambda: bool(run.to("awake", rid, "cancellation")), timeout=60)
    assert run.to("sleepy", rid, "stand_down", "cancellation") == []

"""One in-person errand at a time, through the real API, Kafka, worker, PostgreSQL and pushes
to a local receiver (the ladder at its real pace): a neighbour offered two critical requests
who takes the first is stood down from the second (`helping_elsewhere`) in the same decision,
and the second asks the next neighbour at once instead of waiting out its rung for someone
who cannot come. The busy neighbour is not pushed about it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.link_answers import press
from tests.support.phones_s39 import Phones, new_request, phones, put_helper
from tests.support.waiting import eventually

COMMUNITY = "comm-s40-hoard-sd"
PHONES = {"sd1": "13700000041", "sd2": "13700000042", "sd3": "13700000043"}


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[Phones]:
    async with phones(stack, 1.0, COMMUNITY) as running:
        yield running


@pytest.fixture(scope="module")
def api(run: Phones) -> LocalStack:
    return run.stack


async def test_taking_one_stands_down_the_other_and_it_asks_the_next_at_once(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for hid in ("sd1", "sd2"):
        await put_helper(client, hid, COMMUNITY, PHONES[hid])
    first = await new_request(client, COMMUNITY, contact=_contact("13911110041"))
    second = await new_request(client, COMMUNITY, contact=_contact("13911110042"))
    both = (first, second)
    await run.receiver.wait_for(
        lambda: all(run.to(h, r, "offer") for h in ("sd1", "sd2") for r in both), timeout=60
    )
    # sd3 joins after both waves went out: the second request has not asked them.
    await put_helper(client, "sd3", COMMUNITY, PHONES["sd3"])
    helpers = "SELECT count(*) FROM helpers WHERE community_id = $1"

    async def sd3_known() -> bool:
        return await db.fetchval(helpers, COMMUNITY) == 3

    await eventually(sd3_known, what="sd3 on the roster")

    [offer] = run.to("sd1", first, "offer")
    took = await press(client, httpx.URL(offer["accept_url"]).raw_path.decode())
    assert took.status_code == 200 and "13911110041" in took.text, took.text

    # Asked at once (the critical rung's wait is minutes at this pace), with sd1 stood down.
    await run.receiver.wait_for(lambda: bool(run.to("sd3", second, "offer")), timeout=30)
    status = "SELECT status FROM offers WHERE request_id = $1 AND helper_id = $2"

    async def stood_down() -> bool:
        return await db.fetchval(status, second, "sd1") == "stood_down"

    await eventually(stood_down, what="sd1's offer on the second stood down")
    assert await db.fetchval(status, second, "sd2") == "sent"
    # In the same decision as the accept (not after the rung's wait): one command caused
    # the stand-down and sd3's offer.
    rows = await db.fetch(
        "SELECT type, caused_by FROM event_log WHERE request_id = $1 AND ("
        " type = 'offers_stood_down' OR (type = 'offers_sent' AND body->'offers' @> $2::jsonb))",
        second,
        '[{"helper_id": "sd3"}]',
    )
    assert sorted(r["type"] for r in rows) == ["offers_sent", "offers_stood_down"], rows
    assert len({r["caused_by"] for r in rows}) == 1, rows
    reason = await db.fetchval(
        "SELECT body->>'reason' FROM event_log WHERE request_id = $1"
        " AND type = 'offers_stood_down'",
        second,
    )
    assert reason == "helping_elsewhere"
    # sd3's offer push came after the stand-down, through the same endpoint: none to sd1.
    assert run.to("sd1", second, "stand_down", "cancellation") == []


def _contact(phone: str) -> dict[str, str]:
    return {"name": "王先生", "phone": phone, "address": "3号楼2单元501"}

"""The accepted helper's whole loop through the real parts: offer link → accept → the
page's buttons (我在路上 / 去不了了 / 已完成) → commands on Kafka → worker → PostgreSQL →
the month report's service hours; and "can't come after all" reopening the slot for
another neighbour."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.links import offer_path
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
PHONE = "13912345678"
COMMUNITY = "comm-loop"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    near = builders.place(COMMUNITY, building="b3")
    far = builders.place(COMMUNITY, building="b9")  # the compound ring, not the building's
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        for hid, place in (("near-1", near), ("far-1", far)):
            body = builders.helper(hid, COMMUNITY, ["driving"], place=place)
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
    yield stack


async def offered(db: asyncpg.Connection, rid: str, helper: str) -> str:
    async def find() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2", rid, helper
        )

    return await eventually(find, what=f"an offer to {helper}")


async def open_request(client: httpx.AsyncClient, db: asyncpg.Connection) -> str:
    # Normal urgency: nobody paired, so the building ring at once (one per slot), then a
    # 30-minute wait: only a withdrawal can reach the compound ring during this test.
    body = builders.request(COMMUNITY, source=None, urgency="normal")
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])


def accept_path(api: LocalStack, rid: str, offer_id: str, helper: str) -> str:
    return offer_path(api, COMMUNITY, rid, offer_id, helper)


def button(page: str, step: str) -> str:
    m = re.search(rf'action="(/l/o/[^"]+/p/{step})"', page)
    assert m, f"no {step} button on the page"
    return m.group(1)


async def accept(api: LocalStack, client: httpx.AsyncClient, rid: str, offer: str, who: str) -> str:
    page = await client.post(accept_path(api, rid, offer, who))
    assert page.status_code == 200 and PHONE in page.text, page.text
    assert "我在路上" in page.text and "去不了了" in page.text and "已完成" in page.text
    return page.text


async def test_on_my_way_then_done_and_the_report_shows_the_minutes(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await open_request(client, db)
    offer = await offered(db, rid, "near-1")
    page = await accept(api, client, rid, offer, "near-1")

    way = await client.post(button(page, "on-my-way"))
    assert way.status_code == 200 and "在路上" in way.text, way.text
    assert "我在路上" not in way.text  # pressed: the button is gone, the others stay
    done = await client.post(button(way.text, "done"), data={"minutes": "45"})
    assert done.status_code == 200 and "已完成" in done.text, done.text

    row = await db.fetchrow(
        "SELECT on_way_at, done_at, minutes_spent, minutes_given FROM assignments "
        "WHERE request_id = $1 AND helper_id = 'near-1'",
        rid,
    )
    assert row["on_way_at"] is not None and row["done_at"] is not None
    assert (row["minutes_spent"], row["minutes_given"]) == (45, True)

    async def resolved() -> bool:
        outcome = await db.fetchval("SELECT outcome FROM requests WHERE request_id = $1", rid)
        return outcome == "resolved"

    await eventually(resolved, what="the request resolved by its helper's done")
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    r = await client.get(f"/ops/v1/reports/{COMMUNITY}/{month}", headers=STAFF)
    assert r.status_code == 200, r.text
    hours = {h["helper_id"]: h["service_hours"] for h in r.json()["helpers"]}
    assert hours == {"near-1": 0.75}

    # A second "done" (a double tap, other minutes) changes nothing.
    again = await client.post(button(way.text, "done"), data={"minutes": "600"})
    assert again.status_code in (200, 409)
    assert (
        await db.fetchval(
            "SELECT minutes_spent FROM assignments WHERE request_id = $1 AND helper_id = 'near-1'",
            rid,
        )
        == 45
    )


async def test_cant_come_reopens_the_slot_and_another_neighbour_is_asked(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await open_request(client, db)
    offer = await offered(db, rid, "near-1")
    assert (
        await db.fetchval(
            "SELECT count(*) FROM offers WHERE request_id = $1 AND helper_id = 'far-1'", rid
        )
        == 0
    )
    page = await accept(api, client, rid, offer, "near-1")

    gone = await client.post(button(page, "cant-come"))
    assert gone.status_code == 200 and "去不了" in gone.text, gone.text
    assert PHONE not in gone.text
    far = await offered(db, rid, "far-1")
    caused: dict[str, Any] = {
        r["type"]: r["caused_by"]
        for r in await db.fetch(
            "SELECT type, caused_by FROM event_log WHERE request_id = $1 "
            "AND (type = 'helper_withdrawn' OR (type = 'offers_sent' AND body->'offers' "
            "@> jsonb_build_array(jsonb_build_object('offer_id', $2::text))))",
            rid,
            far,
        )
    }
    # The withdrawal itself asked far-1 (same command), not a later escalation.
    assert caused["offers_sent"] == caused["helper_withdrawn"]
    assert (
        await db.fetchval(
            "SELECT released_why FROM assignments WHERE request_id = $1 AND helper_id = 'near-1'",
            rid,
        )
        == "withdrew"
    )
    # The withdrawn helper's page no longer shows the contact.
    assert PHONE not in (await client.get(accept_path(api, rid, offer, "near-1"))).text

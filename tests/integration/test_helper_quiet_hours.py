"""A helper sets their own quiet hours through the signed personal link; urgent requests
then pass them by (a neighbour who is awake is offered instead)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from dispatcher.links import helper_link
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def test_quiet_hours_from_the_personal_link(stack: LocalStack) -> None:
    community = "quiet"
    stack.bot_communities.add(community)
    stack.start_worker()
    await stack.start_api()
    local = datetime.now(UTC) + timedelta(hours=8)  # China time
    start, end = (local - timedelta(hours=1)), (local + timedelta(hours=1))
    link = helper_link(stack.settings(), helper_id="sleepy", community_id=community)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        for hid in ("sleepy", "awake"):
            h = builders.helper(hid, community, ["driving"])
            assert (
                await client.put(f"/v1/admin/helpers/{hid}", json=h, headers=STAFF)
            ).status_code == 202
        page = await client.get(link)
        assert page.status_code == 200 and "免打扰时段" in page.text
        bad = await client.post(link + "/quiet-hours", data={"start": "soon", "end": "07:00"})
        assert bad.status_code == 422
        r = await client.post(
            link + "/quiet-hours", data={"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
        )
        assert r.status_code == 200 and f"{start:%H:%M}" in r.text
        tampered = await client.post(
            link[:-3] + "xyz/quiet-hours", data={"start": "1:00", "end": "2:00"}
        )
        assert tampered.status_code >= 400
        await asyncio.sleep(1.5)  # the command reaches the worker before the request does
        body = builders.request(community, urgency="urgent", category="errand")
        r = await BotClient(client).post("/v1/requests", body)
        assert r.status_code == 202
        request_id = r.json()["request_id"]

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(
            lambda: conn.fetchrow(
                "SELECT 1 FROM offers WHERE request_id = $1 AND helper_id = 'awake'", request_id
            ),
            what="the awake neighbour's offer",
        )
        offered = [
            r["helper_id"]
            for r in await conn.fetch(
                "SELECT helper_id FROM offers WHERE request_id = $1", request_id
            )
        ]
        assert offered == ["awake"]
    finally:
        await conn.close()

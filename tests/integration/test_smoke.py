"""Through the real parts: HTTP POST → Kafka → Faust agent → PostgreSQL, read back."""

from __future__ import annotations

import asyncpg
import httpx

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually


async def test_post_reaches_postgres_through_kafka_and_faust(stack: LocalStack) -> None:
    stack.start_worker()
    stack.bot_communities.add("smoke")
    await stack.start_api()
    staff = {"Authorization": "Bearer dev-staff-token"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        r = await client.put(
            "/v1/admin/helpers/d1", json=builders.helper("d1", "smoke", ["driving"]), headers=staff
        )
        assert r.status_code == 202, r.text
        r = await BotClient(client).post("/v1/requests", builders.request("smoke"))
        assert r.status_code == 202, r.text
        accepted = r.json()
        request_id = accepted["request_id"]
        assert "邻居" in accepted["reply_text"] and "120" in accepted["reply_text"]
        assert accepted["advise_emergency_call"] is True

        async def status() -> dict[str, object] | None:
            resp = await BotClient(client).get(f"/v1/requests/{request_id}")
            return resp.json() if resp.status_code == 200 and resp.json()["offers_sent"] else None

        seen = await eventually(status, what="the request and its first offer in PostgreSQL")
        assert seen["status"] == "open"
        assert seen["category"] == "hospital_transport"

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM requests WHERE request_id = $1", request_id)
        assert row is not None and row["community_id"] == "smoke"
        offers = await conn.fetch("SELECT helper_id FROM offers WHERE request_id = $1", request_id)
        assert [o["helper_id"] for o in offers] == ["d1"]
        types = [
            r["type"]
            for r in await conn.fetch(
                "SELECT type FROM event_log WHERE request_id = $1 ORDER BY seq", request_id
            )
        ]
        assert types[0] == "request_opened"
        # Safety: a critical trip to hospital tells the requester to call 120 *and* dispatches.
        assert "emergency_call_advised" in types and "offers_sent" in types
        # Privacy: no phone number anywhere in the event log.
        dump = await conn.fetchval("SELECT string_agg(body::text, ' ') FROM event_log")
        assert "13912345678" not in dump and "13800000000" not in dump
    finally:
        await conn.close()

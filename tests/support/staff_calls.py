"""A critical request whose whistle and referral reach nobody, on the real stack: its
worker and API started with the push endpoints a test gives (tests/integration/
test_staff_not_reached.py: staff configured but refusing; test_staff_nobody_to_call_s41.py:
nobody configured), the request posted, both reports awaited, and the dashboard's row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
LOST = "SELECT body FROM event_log WHERE request_id = $1 AND type = 'staff_not_reached'"
RUNG_AT = "SELECT occurred_at FROM event_log WHERE request_id = $1 AND type = $2"


@asynccontextmanager
async def running(
    stack: LocalStack, community: str, endpoints: Callable[[PushReceiver], list[dict[str, str]]]
) -> AsyncIterator[LocalStack]:
    """The stack's worker and API, pushing to `endpoints(receiver)` (a local receiver's
    paths), `community` the test bot's."""
    async with PushReceiver() as receiver:
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints(receiver))
        stack.start_worker()
        stack.bot_communities.add(community)
        await stack.start_api()
        yield stack


async def both_calls_lost(
    client: httpx.AsyncClient, db: asyncpg.Connection, community: str
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A critical request in `community` (no helpers: every ring empty, the whistle at
    once): its id and the whistle's and referral's `staff_not_reached` bodies, the referral
    having come with the whistle's report, well inside the whistle's 120 s wait."""
    r = await BotClient(client).post("/v1/requests", builders.request(community))
    assert r.status_code == 202, r.text
    request_id: str = r.json()["request_id"]

    async def both_lost() -> list[dict[str, Any]] | None:
        rows = await db.fetch(LOST + " ORDER BY seq", request_id)
        return [json.loads(r["body"]) for r in rows] if len(rows) == 2 else None

    whistle, referral = await eventually(both_lost, timeout=60, what="both calls recorded lost")
    blown = await db.fetchval(RUNG_AT, request_id, "whistle_blown")
    referred = await db.fetchval(RUNG_AT, request_id, "referred_to_emergency")
    assert (referred - blown).total_seconds() < 60
    return request_id, whistle, referral


async def dashboard_row(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    """The request's row among the dashboard's open requests."""
    r = await client.get("/ops/v1/overview", headers=STAFF)
    assert r.status_code == 200, r.text
    [row] = [o for o in r.json()["open"] if o["request_id"] == request_id]
    return row  # type: ignore[no-any-return]

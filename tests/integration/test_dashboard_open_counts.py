"""The dashboard snapshot during a surge, read from the real PostgreSQL: more requests open
than the list holds. The "Open" figures count every open request, whenever it was opened,
and the capped list keeps the most urgent (a critical one opened last included)."""

from __future__ import annotations

import asyncpg
import httpx

from dispatcher.ops.dashboard_data import overview
from dispatcher.testing.stack import LocalStack
from tests.support.open_surge import LIST_CAP, OPEN_IN_A, A, B, expected_list, seed_surge

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def test_open_figures_count_every_open_request_and_the_list_keeps_the_most_urgent(
    stack: LocalStack,
) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await seed_surge(conn)
        await stack.start_api()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api:
            r = await api.get("/ops/v1/overview", headers=STAFF)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["today"]["open"] == OPEN_IN_A + 1  # B's, from two days ago, too
        by_community = {c["community_id"]: c for c in data["communities"]}
        assert by_community[A]["open"] == OPEN_IN_A
        # B opened nothing today: its row is there for the request still open.
        assert (by_community[B]["open"], by_community[B]["requests"]) == (1, 0)
        ids = [x["request_id"] for x in data["open"]]
        assert len(ids) == LIST_CAP
        assert ids == expected_list()  # the newest normal ones wait, "crit" leads

        # A community's staff: their communities' figures only.
        only_b = await overview(conn, communities=frozenset({B}))
        assert only_b["today"]["open"] == 1
        assert [x["request_id"] for x in only_b["open"]] == ["b-old"]
    finally:
        await conn.close()

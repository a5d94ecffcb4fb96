"""The requester's "已经解决了，谢谢邻居" in the group after a neighbour helped resolves the
request, on the real API and worker (real Kafka and PostgreSQL); callbacks as WeCom builds them.

Before session 38 it cancelled it (`texts._CANCEL` held 已经解决/已解决/解决了): the neighbour
who had just helped was pushed "（求助人已取消），无需前往", their 已完成 with 40 minutes got
409 "本次不记录服务时长", the request ended `cancelled` and the month report lost the help
and its hours. Now: a resolve by the requester, the group hears "求助已解决，谢谢各位邻居！",
nobody is stood down as if the requester took it back, and the 40 minutes count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.ops.reports import month_report, parse_month
from dispatcher.record.read.dashboard import LOCAL_TZ
from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_flow as flow
from tests.support.waiting import eventually

GROUP = "g-main"
SOLVED = "求助已解决，谢谢各位邻居！"


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, WeCom):
        yield running


def mid() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def test_solved_said_in_the_group_after_the_neighbour_helped_resolves(
    run: flow.Running,
) -> None:
    p = run.platform
    conn = await asyncpg.connect(run.stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
            text = "8号楼有位老人摔倒了起不来，快来人帮忙"
            rid, done = await flow.pa_on_the_way(run, client, text)
            await flow.wait_for_text(p, GROUP, flow.ON_THE_WAY)

            # pa arrives and helps; the requester thanks the group.
            r = await run.send(client, p.message("已经解决了，谢谢邻居", mid(), GROUP))
            assert r.status_code == 200, r.text
            assert r.json() == {"is_request": False, "resolved": rid}
            await flow.wait_for_text(p, GROUP, SOLVED)

            # pa then presses 已完成 with the minutes given: counted, not refused.
            pressed = await client.post(done, data={"minutes": "40"})
            assert pressed.status_code == 200, pressed.text
            assert "不记录服务时长" not in pressed.text, pressed.text

        async def minutes() -> int | None:
            got = await conn.fetchval(
                "SELECT minutes_spent FROM assignments WHERE request_id = $1 "
                "AND helper_id = 'pa' AND done_at IS NOT NULL",
                rid,
            )
            return int(got) if got is not None else None

        assert await eventually(minutes, what="pa's 已完成 recorded") == 40
        request = await conn.fetchrow(
            "SELECT status, outcome, to_char(opened_at AT TIME ZONE $2, 'YYYY-MM') AS month "
            "FROM requests WHERE request_id = $1",
            rid,
            LOCAL_TZ,
        )
        assert (request["status"], request["outcome"]) == ("resolved", "resolved"), dict(request)
        events = [
            (row["type"], row["body"])
            for row in await conn.fetch(
                "SELECT type, body::text AS body FROM event_log WHERE request_id = $1 ORDER BY seq",
                rid,
            )
        ]
        types = [t for t, _ in events]
        assert "request_resolved" in types and "request_cancelled" not in types, types
        assert "command_rejected" not in types, events  # pa's 已完成 was taken
        # pa's assignment was not ended (a cancellation releases it: "求助人已取消，无需前往").
        released = await conn.fetchrow(
            "SELECT released_at, released_why FROM assignments WHERE request_id = $1 "
            "AND helper_id = 'pa'",
            rid,
        )
        assert tuple(released) == (None, None), dict(released)
        report = await month_report(conn, run.community, request["month"], configured=True)
    finally:
        await conn.close()
    assert parse_month(report.month)
    assert report.total["resolved"] == 1 and report.total["cancelled"] == 0, report.total
    assert {h["helper_id"]: h["service_hours"] for h in report.helpers} == {"pa": 0.67}
    told = [
        d["text"]
        for r in run.receiver.for_path("/phones")
        if (d := r.json()["data"]).get("request_id") == rid and d.get("recipient") == "pa"
    ]
    assert not any("求助人已取消" in t for t in told), told

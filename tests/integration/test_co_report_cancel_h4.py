"""A co-reporter from another group cannot cancel the request another group raised, through
the real API and worker (real Kafka and PostgreSQL); callbacks as DingTalk builds them.

Group A (g-main) raises a request; a member of group B (g-extra) reports the same incident,
which is merged into it. That member's "不用了，谢谢" used to cancel group A's request (their
group's thread of it carried them as its sender): every helper stood down while group A
still waited. Now it withdraws group B's report (group B is told, and hears no more of the
request), the request stays open, and only its raiser's "不用了" in group A cancels it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.groupchat import texts
from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_dingtalk import DingTalk
from tests.support import platform_flow as flow
from tests.support.waiting import eventually

# Nobody was offered it in this scenario (no helper in the community): nobody to stand down.
CANCELLED_TEXT = texts.CANCELLED


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, DingTalk):
        yield running


async def rows(run: flow.Running, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(run.stack.pg_dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def events_of(run: flow.Running, request_id: str) -> list[str]:
    found = await rows(
        run, "SELECT type FROM event_log WHERE request_id = $1 ORDER BY seq", request_id
    )
    return [str(r["type"]) for r in found]


def mid() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def test_a_co_reporter_cannot_cancel_another_groups_request(run: flow.Running) -> None:
    p = run.platform
    raiser, co_reporter = "resident-a7", "resident-b8"
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, p.message(flow.pipe(41), mid(), "g-main", raiser))
        assert r.status_code == 200 and r.json()["is_request"], r.text
        raised = r.json()["request_id"]
        await eventually(lambda: events_of(run, raised), what="the request recorded")

        r = await run.send(client, p.message(flow.pipe(41), mid(), "g-extra", co_reporter))
        assert r.status_code == 200, r.text
        assert r.json()["merged"] is True and r.json()["request_id"] == raised

        # The attack: the co-reporter's "不用了" in their own group.
        r = await run.send(client, p.message("不用了，谢谢", mid(), "g-extra", co_reporter))
        assert r.status_code == 200, r.text
        assert r.json() == {"is_request": False, "withdrawn": raised}
        await flow.wait_for_text(p, "g-extra", texts.CO_REPORT_WITHDRAWN)
        threads = await rows(
            run, "SELECT group_id FROM api_group_threads WHERE request_id = $1", raised
        )
        assert [t["group_id"] for t in threads] == [p.group_id("g-main")]

        # The raiser's own "不用了" in group A cancels it: the one cancellation.
        r = await run.send(client, p.message("不用了，谢谢", mid(), "g-main", raiser))
        assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": raised}
        await flow.wait_for_text(p, "g-main", CANCELLED_TEXT)

    # The group's text follows the worker's event, the record agent's row may come later.
    async def cancelled() -> list[str] | None:
        found = await events_of(run, raised)
        return found if "request_cancelled" in found else None

    events = await eventually(cancelled, what="the cancellation recorded")
    assert events.count("request_cancelled") == 1, events
    # Group B, no longer following it, is not told of the cancellation.
    assert CANCELLED_TEXT not in p.group_texts("g-extra")

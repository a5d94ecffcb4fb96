"""What the helper on the way is told when staff close the request, on the real stack (a
WeCom group asks, the API, Kafka, the worker, PostgreSQL, pushes to a real receiver).

Before session 38: a staff cancel told pa "（求助人已取消）" (every cancellation said so,
whoever cancelled), and a staff resolve told pa nothing at all (the core stands down open
offers only; pa's assignment stands, so a "done" still counts): pa went on driving there."""

from __future__ import annotations

import asyncpg
import httpx

from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_flow as flow
from tests.support.platform_flow import pa_on_the_way, to_pa
from tests.support.staff import DISTRICT, bearer

run, api = flow.staffed_fixtures(WeCom)  # the staff file written, no accounts


async def test_a_staff_cancel_tells_the_helper_on_the_way_the_community_cancelled(
    run: flow.Running,
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, _ = await pa_on_the_way(run, client, "7号楼有位老人摔倒了起不来，快来人帮忙")
        r = await client.post(
            f"/ops/v1/requests/{rid}/cancel", json={"note": "误报"}, headers=bearer(DISTRICT)
        )
        assert r.status_code == 202, r.text
        await run.receiver.wait_for(lambda: bool(to_pa(run, rid, "cancellation")), timeout=30)
    [told] = to_pa(run, rid, "cancellation")
    assert "社区已取消" in told["text"] and "无需前往" in told["text"], told["text"]
    assert "求助人已取消" not in told["text"], told["text"]  # the requester never did


async def test_a_staff_resolve_tells_the_helper_on_the_way_and_done_still_counts(
    run: flow.Running, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, done = await pa_on_the_way(run, client, "6号楼有位老人摔倒了起不来，快来人帮忙")
        r = await client.post(
            f"/ops/v1/requests/{rid}/resolve",
            json={"note": "已电话确认，家属已送医"},
            headers=bearer(DISTRICT),
        )
        assert r.status_code == 202, r.text
        await run.receiver.wait_for(lambda: bool(to_pa(run, rid, "cancellation")), timeout=30)
        [told] = to_pa(run, rid, "cancellation")
        assert told["title"] == "求助已解决", told
        assert "社区已确认" in told["text"] and "已完成" in told["text"], told["text"]
        # Not stood down: pa was there and helped, so pa's 已完成 counts the time.
        pressed = await client.post(done, data={"minutes": "25"})
        assert pressed.status_code == 200 and "不记录服务时长" not in pressed.text, pressed.text

    assert await flow.pa_minutes_recorded(db, rid) == 25

"""A staff referral to 120 keeps the helper on the way (f06977a), on the real stack (a
WeCom group asks, the API, Kafka, the worker, PostgreSQL, pushes to a real receiver).

Before: the core kept pa assigned, but no push told pa (the planner made none for the
referral: pa went on, or not, knowing nothing), and pa's 已完成 was refused as
"这次求助已取消或已转交…本次不记录服务时长" (`complete` refused after any referral), so the
minutes pa spent with someone who had fallen until the ambulance came were lost."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import asyncpg
import httpx

from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_flow as flow
from tests.support.platform_flow import pa_on_the_way, to_pa
from tests.support.staff import DISTRICT, bearer
from tests.support.waiting import eventually

run, api = flow.staffed_fixtures(WeCom)  # the staff file written, no accounts


async def test_a_referral_to_120_tells_the_helper_to_go_on_and_done_counts(
    run: flow.Running, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, done = await pa_on_the_way(run, client, "8号楼有位老人摔倒了起不来，快来人帮忙")
        r = await client.post(
            f"/ops/v1/requests/{rid}/refer",
            json={"to": "120", "note": "已拨打120"},
            headers=bearer(DISTRICT),
        )
        assert r.status_code == 202, r.text
        await run.receiver.wait_for(lambda: bool(to_pa(run, rid, "cancellation")), timeout=30)
        [told] = to_pa(run, rid, "cancellation")
        assert told["title"] == "求助已转交120急救", told
        assert told["text"].startswith("求助已转交120急救："), told["text"]
        assert "请继续前往协助" in told["text"] and "已完成" in told["text"], told["text"]
        # Not a cancellation nor a stand-down: nothing told pa not to come.
        assert "无需" not in told["text"] and "取消" not in told["text"], told["text"]

        async def closed_keeping_pa() -> bool | None:
            row = await db.fetchrow(
                "SELECT r.closed_at IS NOT NULL AS closed, a.released_at IS NULL AS kept"
                " FROM requests r JOIN assignments a USING (request_id)"
                " WHERE r.request_id = $1 AND a.helper_id = 'pa'",
                rid,
            )
            return bool(row["kept"]) if row is not None and row["closed"] else None

        assert await eventually(closed_keeping_pa, what="the referral recorded") is True
        # pa's page still offers 已完成 (the request closed: neither 去不了了 nor the contact
        # matters now, 已完成 does).
        offer = next(o for o in flow.offers_for(run.receiver, rid) if o["helper_id"] == "pa")
        page = await client.get(urlparse(str(offer["accept_url"])).path)
        assert page.status_code == 200, page.text
        assert re.search(r'action="/l/o/[^"]+/p/done"', page.text), page.text
        # …and still shows where to go (the contact page, not "求助现已结束…无需前往"): pa was
        # told to go on until the ambulance comes (read.requests.private_details).
        assert "无需前往" not in page.text, page.text
        shown = await db.fetchval(
            "SELECT count(*) FROM contact_views WHERE request_id = $1 AND helper_id = 'pa'"
            " AND at > (SELECT closed_at FROM requests WHERE request_id = $1)",
            rid,
        )  # each showing of the contact is audited: this one came after the referral
        assert shown, page.text
        # pa stayed until the ambulance came, then pressed 已完成 with the minutes.
        pressed = await client.post(done, data={"minutes": "35"})
        assert pressed.status_code == 200, pressed.text
        assert "不记录服务时长" not in pressed.text and "已记录您的帮助时长" in pressed.text

    assert await flow.pa_minutes_recorded(db, rid) == 35
    # Nothing ever told pa to stand down.
    assert to_pa(run, rid, "stand_down") == []
    assert [d["title"] for d in to_pa(run, rid, "cancellation")] == ["求助已转交120急救"]

"""What the asking group hears when a helper kept after a referral to 120 cannot go after
all, on the real stack (a WeCom group asks, the API, Kafka, the worker, PostgreSQL, the
group's robot on a real receiver).

Before: "一位邻居临时无法前来，正在联系其他邻居。" - nobody else is contacted (the request
stays referred, no new offer goes out). Now: "一位邻居临时无法前来。求助已转交120急救，请等候
专业救援、保持电话畅通。"."""

from __future__ import annotations

import asyncpg
import httpx

# The module's stack (a WeCom group, pa and pb on the phones), as the session-38 referral
# test starts it.
from tests.integration.test_referral_keeps_helpers_s38 import api, run  # noqa: F401
from tests.support import kept_helpers as kept
from tests.support import platform_flow as flow

GONE = "一位邻居临时无法前来"
HANDED = "一位邻居临时无法前来。求助已转交120急救，请等候专业救援、保持电话畅通。"


async def test_the_group_hears_a_kept_helper_withdrew_and_that_120_has_it(
    run: flow.Running,  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        _, link, _ = await kept.pa_accepts_then_staff(
            run, client, db, "6号楼有位老人摔倒了起不来，快来人帮忙", "refer", kept.REFER_120
        )
        await run.receiver.wait_for(
            lambda: any("求助已转交处理" in t for t in run.platform.group_texts("g-main")),
            timeout=30,
        )
        told = await kept.cant_come_and_heard(run, client, link, GONE)
    assert told == [HANDED], told

"""Staff release a helper kept after a referral to 120 from the dashboard, in a real headless
Chromium (a WeCom group asks, pa accepts, staff refer to 120: pa is kept, told to go on).
pa never comes: staff select the referred row, pa is listed with "未到场，重新派单", pressing
it releases pa, the group hears that a neighbour cannot come and that 120 has it.

Before: the listing said `open: false` for the referred request and the page drew no button,
so a kept helper could be released only by hand through the API."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from tests.e2e.dashboard_page import (
    helper_item,
    no_show_listed,
    press_no_show,
    row,
    row_status,
    signed_in,
)

# The module's stack (a WeCom group, pa and pb on the phones), as the session-38 referral
# test starts it.
from tests.integration.test_referral_keeps_helpers_s38 import api, run  # noqa: F401
from tests.support import kept_helpers as kept
from tests.support import platform_flow as flow
from tests.support.staff import DISTRICT
from tests.support.waiting import eventually

HANDED = "一位邻居临时无法前来。求助已转交120急救，请等候专业救援、保持电话畅通。"


async def test_staff_release_a_kept_helper_from_the_dashboard(
    run: flow.Running,  # noqa: F811
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    async with (
        signed_in(run.stack, tmp_path, DISTRICT, start_api=False) as browser,
        httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client,
    ):
        rid, _, _ = await kept.pa_accepts_then_staff(
            run, client, db, "6号楼有位老人摔倒了起不来，快来人帮忙", "refer", kept.REFER_120
        )

        async def referred() -> bool:
            return await row_status(browser, rid) == "referred"

        await eventually(referred, timeout=60, what="the row showing the referral")
        await browser.evaluate(f"{row(rid)}.click(); true")  # select the row
        assert await no_show_listed(browser, "pa") == "未到场，重新派单"

        # The row says why a closed request is still there (from the next snapshot).
        async def kept_shown() -> str | None:
            got: str | None = await browser.evaluate(f"{row(rid)}?.dataset.keptHolders")
            return got

        assert await eventually(kept_shown, timeout=30, what="the row's kept helpers") == "1"
        await browser.screenshot(tmp_path / "dashboard-kept-listed.png")

        def heard() -> list[str]:
            return [t for t in run.platform.group_texts("g-main") if "一位邻居临时无法前来" in t]

        assert heard() == []
        assert await press_no_show(browser, "pa") == "sent"
        await run.receiver.wait_for(lambda: bool(heard()), timeout=30)
        assert heard() == [HANDED]

        # pa is told they need not come, and that 120 has it: nobody else is asked.
        def told() -> list[str]:
            notices = flow.to_pa(run, rid, "cancellation")
            return [str(d["text"]) for d in notices if d["title"] == "您已无需前往"]

        await run.receiver.wait_for(lambda: bool(told()), timeout=30)
        [notice] = told()
        assert "求助已转交专业救援" in notice and "另找邻居" not in notice, notice

        async def released() -> bool:
            gone = f"!{helper_item('pa')} && !{row(rid)}?.dataset.keptHolders"
            return bool(await browser.evaluate(gone))

        await eventually(released, timeout=60, what="pa gone from the list and the row")
        await browser.screenshot(tmp_path / "dashboard-kept-released.png")

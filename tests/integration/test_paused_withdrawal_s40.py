"""A chore whose helper withdraws (去不了了) once the community's quiet hours began, on the
real stack (a WeCom group asks, the API, Kafka, the worker, PostgreSQL, pushes and the
group's robot on a real receiver). Session 40.

The core rightly asks nobody else until the quiet hours end: the withdrawal's replacement
offer is not sent and the ladder pauses (`RequestPaused`). Before:
- the group heard "一位邻居临时无法前来，正在联系其他邻居。" (nobody is contacted at night);
- the dashboard's API listed the request as open like any other being worked now (nothing
  recorded the pause).
Now the group hears that nobody else is asked before the quiet hours' end (local time; not
that the search goes on then: test_paused_to_the_end_group_s40) and to call
120/110/119 or the community meanwhile, and the dashboard shows the request paused until
then (`paused_until`, `paused_local`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from dispatcher.record.read import request_flags
from tests.integration.test_community_settings_live import applied
from tests.integration.test_platform_wecom import WeCom
from tests.support import kept_helpers as kept
from tests.support import platform_flow as flow
from tests.support.staff import DISTRICT, bearer, status_of
from tests.support.waiting import eventually

run, api = flow.staffed_fixtures(WeCom)  # the staff file written, no accounts

GONE = "一位邻居临时无法前来"
HOTLINE = "社区值班 0592-5550101"


async def quiet_from_now(run: flow.Running, client: httpx.AsyncClient) -> str:
    """The group's community in quiet hours from 5 min ago until 30 min from now (whole
    minutes, Asia/Shanghai), applied by the worker: the end, local HH:MM."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    start, end = (now - timedelta(minutes=5)).time(), (now + timedelta(minutes=30)).time()
    doc = {
        "display_name": "平台社区",
        "hotlines": [{"label": "社区值班", "number": "0592-5550101"}],
        "quiet_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
    }
    r = await client.put(
        f"/v1/admin/config/communities/{run.community}", json=doc, headers=flow.STAFF
    )
    assert r.status_code == 200, r.text
    await applied(run.stack, run.community, quiet_hours=f"{start.isoformat()}-{end.isoformat()}")
    return end.strftime("%H:%M")


async def test_a_withdrawal_in_quiet_hours_tells_the_truth_to_the_group_and_the_dashboard(
    run: flow.Running, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        # A chore (normal, driving), accepted by pa before the quiet hours.
        rid, link, _ = await kept.pa_accepts(run, client, "6号楼有位老人想请邻居开车送他去车站")
        until = await quiet_from_now(run, client)
        told = await kept.cant_come_and_heard(run, client, link, GONE)
        assert told == [
            f"一位邻居临时无法前来。现在是社区安静时段，{until}前暂不联系其他邻居。"
            f"如情况紧急，请拨打120/110/119。也可联系{HOTLINE}。"
        ], told

        # The dashboard's API: open, and paused until the quiet hours' end.
        async def paused_row() -> dict[str, object] | None:
            r = await client.get("/ops/v1/overview", headers=bearer(DISTRICT))
            assert r.status_code == 200, r.text
            row = next((o for o in r.json()["open"] if o["request_id"] == rid), None)
            return row if row is not None and row.get("paused_until") else None

        row = await eventually(paused_row, what="the dashboard showing the pause")
        assert row["status"] == "open" and row["paused_local"] == until, row
        assert row["held_until"] is None, row  # not a hold: its time to first accept stands

        # The event log has the pause (what the group loop reads after a restart).
        pause = await request_flags.pause_before(
            db, rid, datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(seconds=5)
        )
        assert pause is not None and pause.local_time == until, pause
        assert row["paused_until"] == pause.until.isoformat(), (row, pause)
        # The status API (bots, staff tools) says so too: it said "open" and nothing more.
        status = await status_of(client, rid)
        assert status["status"] == "open" and status["held_until"] is None, status
        assert (status["paused_until"], status["paused_local"]) == (row["paused_until"], until)
        # Nobody else was asked: no offer after the withdrawal.
        kinds = [
            r["type"]
            for r in await db.fetch(
                "SELECT type FROM event_log WHERE request_id = $1 ORDER BY seq", rid
            )
        ]
        assert kinds.index("request_paused") > kinds.index("helper_withdrawn"), kinds
        after = kinds[kinds.index("helper_withdrawn") :]
        assert "offer_sent" not in after and "offers_sent" not in after, kinds

        # Quiet hours off again for the module's other uses of the community.
        r = await client.put(
            f"/v1/admin/config/communities/{run.community}",
            json={"display_name": "平台社区"},
            headers=flow.STAFF,
        )
        assert r.status_code == 200, r.text

"""The same incident reported again while nobody has accepted it brings staff in now
(session 40 audit). Before, the merged report only counted `reports + 1`: the ladder
waited out its neighbours' rung (here the building's two minutes, then the compound's,
the grid's and the community's, the whistle 51 minutes in), though in a thin circle the
repeat ("还是没人来…") comes precisely because nobody came. Now the API sends
`ReportRepeated` through Kafka and the core climbs to the whistle: staff on duty offered,
the whistle list and the group told; once per request, however many repeats follow, and a
later repeat is told staff were notified. Real API, worker, PostgreSQL and Kafka."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.merged_reports import again
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

COMMUNITY = "s40-repeat-climb"
NOBODY_ON_DUTY = "s40-repeat-nostaff"  # a neighbour, no staff: the whistle offers nobody
STAFF_ID = "rc-staff"
WHISTLES = "SELECT body FROM event_log WHERE request_id = $1 AND type = 'whistle_blown'"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.bot_communities.update({COMMUNITY, NOBODY_ON_DUTY})
    started = await started_with(stack, COMMUNITY, ("rc-1",))
    staff = builders.helper(
        STAFF_ID,
        COMMUNITY,
        [],
        roles=["community_staff"],
        place=builders.place(COMMUNITY, building="b8", household_id="h-rc-staff"),
    )
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        alone = builders.helper("rn-1", NOBODY_ON_DUTY, ["driving"])
        for h in (staff, alone):
            r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
            assert r.status_code == 202, r.text
    return started


async def whistled(db: asyncpg.Connection, rid: str) -> dict[str, Any]:
    async def blown() -> dict[str, Any] | None:
        raw = await db.fetchval(WHISTLES, rid)
        return json.loads(raw) if raw is not None else None

    return await eventually(blown, timeout=30, what="the whistle after the repeat")


async def offered(
    bot: BotClient, db: asyncpg.Connection, community: str, neighbour: str
) -> tuple[dict[str, Any], str]:
    """An urgent request in b3 (its body, its id), once `neighbour` is offered it."""
    body = builders.request(
        community, urgency="urgent", place=builders.place(community, building="b3")
    )
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    rid = first.json()["request_id"]
    await offer_of(db, rid, neighbour)  # asked on the building's rung, not answering
    return body, rid


async def test_a_repeat_nobody_answered_blows_the_whistle_once(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body, rid = await offered(bot, db, COMMUNITY, "rc-1")
    assert await db.fetchval(WHISTLES, rid) is None

    second = await bot.post("/v1/requests", again(body, "m-still-nobody"))
    assert second.status_code == 202 and second.json()["merged"] is True, second.text
    assert second.json()["request_id"] == rid
    # Its climb is still on its way as it answers: staff not said to be notified yet.
    assert "已通知社区工作人员" not in second.json()["reply_text"]

    # Well inside the building rung's own two minutes: only the repeat climbs this soon.
    blown = await whistled(db, rid)
    assert STAFF_ID in blown["staff_helper_ids"], blown
    await offer_of(db, rid, STAFF_ID)
    row = await db.fetchrow(
        "SELECT status, whistled_at, step FROM requests WHERE request_id = $1", rid
    )
    assert row["status"] == "open" and row["whistled_at"] is not None, dict(row)

    # A flood of repeats: one climb. A later request of the community (the same partition
    # of `commands`) recorded means every repeat before it was decided.
    replies = []
    for i in range(3):
        r = await bot.post("/v1/requests", again(body, f"m-again-{i}"))
        assert r.status_code == 202 and r.json()["merged"] is True, r.text
        replies.append(r.json()["reply_text"])
    assert all("暂时还没有邻居接单，已通知社区工作人员" in said for said in replies), replies
    other = builders.request(
        COMMUNITY, urgency="urgent", place=builders.place(COMMUNITY, building="b5")
    )
    later = await bot.post("/v1/requests", other)
    assert later.status_code == 202 and later.json()["merged"] is False, later.text

    async def recorded() -> bool | None:
        q = "SELECT 1 FROM requests WHERE request_id = $1"
        return True if await db.fetchval(q, later.json()["request_id"]) else None

    await eventually(recorded, what="the later request recorded")
    assert len(await db.fetch(WHISTLES, rid)) == 1
    assert await db.fetchval("SELECT step FROM requests WHERE request_id = $1", rid) == row["step"]


async def test_staff_are_not_said_notified_when_nobody_is_on_duty(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body, rid = await offered(bot, db, NOBODY_ON_DUTY, "rn-1")
    second = await bot.post("/v1/requests", again(body, "m-nostaff-2"))
    assert second.status_code == 202 and second.json()["merged"] is True, second.text
    blown = await whistled(db, rid)  # the group told; no staff offered
    assert blown["staff_helper_ids"] == [], blown
    third = await bot.post("/v1/requests", again(body, "m-nostaff-3"))
    said = third.json()["reply_text"]
    assert "暂时还没有邻居接单" in said and "已通知社区工作人员" not in said, said

"""The same incident reported again while nobody has accepted it brings staff in, once the
first neighbours asked have had their time (session 40 audit). Before, the merged report
only counted `reports + 1`: the ladder waited out its neighbours' rungs (here the
building's, then the compound's, the grid's and the community's), though in a thin circle
the repeat ("还是没人来…") comes precisely because nobody came. Now the API sends
`ReportRepeated` through Kafka and the core climbs to the whistle once the first
neighbour's rung has had its full wait: a repeat inside it does nothing (a re-post ten
seconds later is no sign nobody will come); after it, staff on duty offered, the whistle
list and the group told, long before the ladder itself would; once per request, however
many repeats follow, and a later repeat is told staff were notified. The ladder runs five
times faster (`DISPATCH_PLAN_TIME_SCALE`): the building's two minutes are 24 s. Real API,
worker, PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.clock import utcnow
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.merged_reports import again
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

SCALE = 0.2
COMMUNITY = "s40-repeat-climb"
NOBODY_ON_DUTY = "s40-repeat-nostaff"  # a neighbour, no staff: the whistle offers nobody
STAFF_ID = "rc-staff"
WHISTLES = "SELECT body FROM event_log WHERE request_id = $1 AND type = 'whistle_blown'"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = str(SCALE)
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


class Asked:
    """The first neighbour's offer as recorded, and the request's (scaled) rungs."""

    def __init__(self, offer: asyncpg.Record, ladder: list[dict[str, Any]]) -> None:
        self.sent_at: datetime = offer["sent_at"]
        self.expires_at: datetime = offer["expires_at"]
        self.step: int = offer["step"]
        self.waits = [s["wait_s"] for s in ladder]
        self.whistle = next(k for k, s in enumerate(ladder) if s["ring"] == "whistle")

    def answer_time_ends(self) -> datetime:
        """When the neighbour has had her rung's full wait (the repeat's rule)."""
        return self.sent_at + timedelta(seconds=self.waits[self.step])

    def ladder_would_whistle(self) -> datetime:
        """The earliest the ladder itself would blow the whistle: every rung from hers
        waited out, or (nobody else to ask) her offer run out."""
        rungs = timedelta(seconds=sum(self.waits[self.step : self.whistle]))
        return min(self.sent_at + rungs, self.expires_at)


async def offered(
    bot: BotClient, db: asyncpg.Connection, community: str, neighbour: str
) -> tuple[dict[str, Any], str, Asked]:
    """An urgent request in b3 (its body, its id), once `neighbour` is offered it."""
    body = builders.request(
        community, urgency="urgent", place=builders.place(community, building="b3")
    )
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    rid = first.json()["request_id"]
    offer_id = await offer_of(db, rid, neighbour)  # not answering
    offer = await db.fetchrow(
        "SELECT sent_at, expires_at, step FROM offers WHERE offer_id = $1", offer_id
    )
    q = "SELECT body FROM event_log WHERE request_id = $1 AND type = 'request_opened'"

    async def opened() -> str | None:
        return await db.fetchval(q, rid)  # type: ignore[no-any-return]

    ladder = json.loads(await eventually(opened, what="the request opened"))["ladder"]
    return body, rid, Asked(offer, ladder)


async def after_the_answer_time(asked: Asked) -> None:
    await asyncio.sleep(max(0.0, (asked.answer_time_ends() - utcnow()).total_seconds()) + 0.5)


async def decided_so_far(bot: BotClient, db: asyncpg.Connection, building: str) -> None:
    """A later request of the community (the same partition of `commands`) recorded: every
    repeat sent before it was decided."""
    other = builders.request(
        COMMUNITY, urgency="urgent", place=builders.place(COMMUNITY, building=building)
    )
    later = await bot.post("/v1/requests", other)
    assert later.status_code == 202 and later.json()["merged"] is False, later.text

    async def recorded() -> bool | None:
        q = "SELECT 1 FROM requests WHERE request_id = $1"
        return True if await db.fetchval(q, later.json()["request_id"]) else None

    await eventually(recorded, what="the later request recorded")


async def test_a_repeat_blows_the_whistle_once_the_first_neighbour_had_her_time(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body, rid, asked = await offered(bot, db, COMMUNITY, "rc-1")

    # Reported again at once, inside rc-1's answer time: nothing (before: the whistle).
    early = await bot.post("/v1/requests", again(body, "m-at-once"))
    assert early.status_code == 202 and early.json()["merged"] is True, early.text
    assert utcnow() < asked.answer_time_ends()  # the premise: it was inside her time
    await decided_so_far(bot, db, "b5")
    assert await db.fetchval(WHISTLES, rid) is None

    await after_the_answer_time(asked)
    second = await bot.post("/v1/requests", again(body, "m-still-nobody"))
    assert second.status_code == 202 and second.json()["merged"] is True, second.text
    assert second.json()["request_id"] == rid
    # Its climb is still on its way as it answers: staff not said to be notified yet.
    assert "已通知社区工作人员" not in second.json()["reply_text"]

    blown = await whistled(db, rid)
    assert STAFF_ID in blown["staff_helper_ids"], blown
    await offer_of(db, rid, STAFF_ID)
    row = await db.fetchrow(
        "SELECT status, whistled_at, step FROM requests WHERE request_id = $1", rid
    )
    assert row["status"] == "open" and row["whistled_at"] is not None, dict(row)
    # Only the repeat climbs this soon: the ladder itself is minutes from its whistle.
    assert row["whistled_at"] < asked.ladder_would_whistle(), (dict(row), asked.__dict__)

    # A flood of repeats: one climb.
    replies = []
    for i in range(3):
        r = await bot.post("/v1/requests", again(body, f"m-again-{i}"))
        assert r.status_code == 202 and r.json()["merged"] is True, r.text
        replies.append(r.json()["reply_text"])
    assert all("暂时还没有邻居接单，已通知社区工作人员" in said for said in replies), replies
    await decided_so_far(bot, db, "b6")
    assert len(await db.fetch(WHISTLES, rid)) == 1
    assert await db.fetchval("SELECT step FROM requests WHERE request_id = $1", rid) == row["step"]


async def test_staff_are_not_said_notified_when_nobody_is_on_duty(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body, rid, asked = await offered(bot, db, NOBODY_ON_DUTY, "rn-1")
    await after_the_answer_time(asked)
    second = await bot.post("/v1/requests", again(body, "m-nostaff-2"))
    assert second.status_code == 202 and second.json()["merged"] is True, second.text
    blown = await whistled(db, rid)  # the group told; no staff offered
    assert blown["staff_helper_ids"] == [], blown
    third = await bot.post("/v1/requests", again(body, "m-nostaff-3"))
    said = third.json()["reply_text"]
    assert "暂时还没有邻居接单" in said and "已通知社区工作人员" not in said, said

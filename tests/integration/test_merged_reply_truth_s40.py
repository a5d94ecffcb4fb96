"""A second report of an incident nobody has accepted is told so (session 40 audit): it was
told "已收到，邻居们已在处理同一求助" whenever the earlier request was open and not held, while
the neighbour offered had not answered (in a thin circle the second report comes precisely
because nobody came). Now it hears that nobody has yet, with the numbers to call; once a
neighbour accepted, a third report hears that neighbours are on it. A life-threatening
one keeps its call-now line first. Real API, worker, PostgreSQL and Kafka."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.merged_reports import again
from tests.support.neighbours_s39 import started_with
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

COMMUNITY = "s40-merged-truth"
ON_IT = "已收到，邻居们已在处理同一求助"
NOBODY_YET = "同一求助已登记，暂时还没有邻居接单"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.bot_communities.add(COMMUNITY)
    return await started_with(stack, COMMUNITY, ("mt-1",))


def report(building: str, urgency: str) -> dict[str, Any]:
    return builders.request(
        COMMUNITY, urgency=urgency, place=builders.place(COMMUNITY, building=building)
    )


async def test_nobody_accepted_is_told_so_and_an_accepted_one_that_neighbours_are_on_it(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body = report("b3", "urgent")
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    rid = first.json()["request_id"]
    offer = await offer_of(db, rid, "mt-1")  # offered, not answered: nobody is coming yet

    second = await bot.post("/v1/requests", again(body, "m-still-nobody"))
    assert second.status_code == 202, second.text
    said = second.json()["reply_text"]
    assert second.json()["merged"] is True and second.json()["request_id"] == rid
    assert ON_IT not in said and NOBODY_YET in said, said
    assert "120/110/119" in said

    # mt-1 accepts: now a neighbour is on it.
    accepted = await press(client, offer_path(api, COMMUNITY, rid, offer, "mt-1"))
    assert accepted.status_code == 200 and "谢谢您！请前往帮忙" in accepted.text, accepted.text

    async def assigned() -> bool | None:
        n = await db.fetchval("SELECT helpers_assigned FROM requests WHERE request_id = $1", rid)
        return True if n else None

    await eventually(assigned, what="mt-1's acceptance recorded")
    third = await bot.post("/v1/requests", again(body, "m-third"))
    assert third.status_code == 202 and third.json()["merged"] is True, third.text
    assert ON_IT in third.json()["reply_text"], third.json()["reply_text"]
    assert NOBODY_YET not in third.json()["reply_text"]


async def test_life_threatening_keeps_the_call_now_line_first(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    bot = BotClient(client)
    body = {**report("b4", "critical"), "category": "fall", "skills": []}
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    second = await bot.post("/v1/requests", again(body, "m-critical-again"))
    assert second.status_code == 202 and second.json()["merged"] is True, second.text
    said = second.json()["reply_text"]
    assert said.startswith("请立即拨打120"), said
    assert NOBODY_YET in said and ON_IT not in said, said
    assert second.json()["advise_emergency_call"] is True

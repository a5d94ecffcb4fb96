"""A second report merged into a request held for the community's quiet hours is told it
is held, and until when, like the first (session 38 audit, finding 4): it was told
"已收到，邻居们已在处理同一求助", while nobody is asked until the hold ends. Both ways the API
knows the hold: the earlier request's command still in the intake outbox (the core's rule
at its time), and recorded by the worker (the read model's `held_until`). A merge into a
request that is not held is not told it is held either (nor, nobody having accepted it,
that neighbours are on it: session 40, test_merged_reply_truth_s40.py). Real API, worker,
PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.record.edge import intake
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.config_cli import config_cli as cli
from tests.support.households import quiet_now
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-merged-held"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.bot_communities.add(COMMUNITY)
    stack.start_worker()
    await stack.start_api()
    cli(stack, "set-community", COMMUNITY, "--display-name", "安静社区")
    yield stack


def report(building: str, urgency: str) -> dict[str, Any]:
    return builders.request(
        COMMUNITY,
        urgency=urgency,
        category="repair",
        skills=[],
        text=f"{building}楼道灯坏了，谁会修？",
        place=builders.place(COMMUNITY, building=building),
    )


def again(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The same incident reported in another chat message (merged into the first)."""
    return {**body, "source": {**body["source"], "message_id": message_id}}


async def test_a_report_merged_into_a_held_request_is_told_it_is_held(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    end = await quiet_now(api, client, COMMUNITY)
    held = f"现在是社区安静时段，将于{end:%H:%M}通知"
    bot = BotClient(client)
    body = report("b5", "normal")
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    assert held in first.json()["reply_text"], first.json()

    # At once: the first request's command may still be in the outbox.
    second = await bot.post("/v1/requests", again(body, "m-second"))
    assert second.status_code == 202, second.text
    answer = second.json()
    assert answer["merged"] is True and answer["request_id"] == first.json()["request_id"]
    assert held in answer["reply_text"], answer["reply_text"]
    assert "已在处理" not in answer["reply_text"], answer["reply_text"]

    # Recorded by the worker, held there, and its outbox copy dropped (what the API's
    # sweeper does): the API reads the hold from the read model.
    async def recorded_held() -> bool | None:
        until = await db.fetchval(
            "SELECT held_until FROM requests WHERE request_id = $1", first.json()["request_id"]
        )
        return True if until is not None else None

    await eventually(recorded_held, what="the first report recorded as held")
    await intake.confirm_recorded(db)
    command = await db.fetchval(
        "SELECT command FROM api_intake WHERE request_id = $1", first.json()["request_id"]
    )
    assert command is None  # the read model is what answers now
    third = await bot.post("/v1/requests", again(body, "m-third"))
    assert third.status_code == 202, third.text
    assert third.json()["merged"] is True
    assert held in third.json()["reply_text"], third.json()["reply_text"]
    assert "已在处理" not in third.json()["reply_text"], third.json()["reply_text"]


async def test_a_report_merged_into_a_request_not_held_is_not_told_it_is_held(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    await quiet_now(api, client, COMMUNITY)
    bot = BotClient(client)
    body = report("b6", "urgent")  # urgent: never held for quiet hours
    first = await bot.post("/v1/requests", body)
    assert first.status_code == 202, first.text
    assert "安静时段" not in first.json()["reply_text"], first.json()
    second = await bot.post("/v1/requests", again(body, "m-urgent-second"))
    assert second.status_code == 202, second.text
    assert second.json()["merged"] is True
    # Nobody in this community to accept it: not "neighbours are on it" (session 40).
    assert "暂时还没有邻居接单" in second.json()["reply_text"], second.json()
    assert "已在处理" not in second.json()["reply_text"]
    assert "安静时段" not in second.json()["reply_text"]

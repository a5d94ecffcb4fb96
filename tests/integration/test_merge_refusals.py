"""Merging stops where a report would be lost, through the real parts: signed HTTP → API
subprocess → PostgreSQL's intake statement (migration 0370's merge under the advisory lock)
→ Kafka. No worker: the merge reads an unrecorded request as open.

A critical "没有呼吸了" from another flat of the building after an elder's "血压有点高，
明天?" (same building, same category) was merged into it, never dispatched, and told that
neighbours were coming. Now it is its own request and in Kafka; a second report as urgent as
the first still merges, and two households' requests stay two, with no household id stored
in the clear in the merge key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_merge_resend import commands_in, submitted
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.group_bot import use_group_bot

COMMUNITY = "merge-refusals"
COMPOUND = {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "c1"}
NORMAL = "3号楼我家老人血压有点高，哪位医生邻居明天方便帮忙看看？"
CRITICAL = "3号楼2单元501，我爸突然晕倒了，叫不醒，没有呼吸了！"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    use_group_bot(stack, "merge-refusals", COMMUNITY, {"grid-1": COMPOUND, "grid-2": COMPOUND})
    await stack.start_api()
    yield stack


async def chat(client: httpx.AsyncClient, text: str, message_id: str, group: str) -> Any:
    sender = {"id": f"wx-{message_id}", "name": "王女士"}
    payload = {"group_id": group, "message_id": message_id, "sender": sender, "text": text}
    answer = await BotClient(client).post("/v1/messages", payload)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_a_critical_report_is_its_own_request_and_dispatched(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await chat(client, NORMAL, "m-normal", "grid-1")
    second = await chat(client, CRITICAL, "m-critical", "grid-2")
    assert second["merged"] is False and second["request_id"] != first["request_id"]
    assert second["urgency"] == "critical" and second["emergency_number"] == "120"
    assert "同一求助" not in second["reply_text"]
    topic = api.env()["DISPATCH_COMMANDS_TOPIC"]
    assert submitted(await commands_in(api, topic), second["request_id"])
    # Another report as urgent as the first: the same incident, one request.
    again = await chat(client, NORMAL, "m-normal-again", "grid-2")
    assert again["merged"] is True and again["request_id"] == first["request_id"]
    reports = await db.fetch(
        "SELECT request_id, reports FROM api_intake WHERE request_id = ANY($1::text[])",
        [first["request_id"], second["request_id"]],
    )
    assert {r["request_id"]: r["reports"] for r in reports} == {
        first["request_id"]: 2,
        second["request_id"]: 1,
    }


async def test_two_households_requests_in_one_building_stay_two(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)

    async def ask(household_id: str) -> Any:
        place = builders.place(COMMUNITY, building="b7", household_id=household_id)
        answer = await bot.post("/v1/requests", builders.request(COMMUNITY, place=place))
        assert answer.status_code == 202, answer.text
        return answer.json()

    wang = await ask("hh-wang-701")
    li = await ask("hh-li-702")
    assert li["merged"] is False and li["request_id"] != wang["request_id"]
    again = await ask("hh-wang-701")
    assert again["merged"] is True and again["request_id"] == wang["request_id"]
    keys = await db.fetch(
        "SELECT merge_key FROM api_intake WHERE request_id = ANY($1::text[])",
        [wang["request_id"], li["request_id"]],
    )
    assert len({k["merge_key"] for k in keys}) == 2
    assert not [k for k in keys if "hh-wang" in k["merge_key"] or "hh-li" in k["merge_key"]]


async def test_two_flats_falls_in_one_building_stay_two_requests(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Session 41's audit: "3号楼502…摔倒" and "3号楼1201…摔倒" from two senders (no
    household known) had one merge key, so the second family's fall became a co-report of
    the first, never dispatched, and its group later heard a neighbour was on the way."""
    first = await chat(client, "3号楼502，我老伴摔倒了起不来，快来人帮忙", "m-502", "grid-1")
    other = await chat(client, "3号楼1201，我妈摔倒了起不来，快来人帮忙", "m-1201", "grid-2")
    assert other["merged"] is False and other["request_id"] != first["request_id"]
    topic = api.env()["DISPATCH_COMMANDS_TOPIC"]
    sent = await commands_in(api, topic)
    assert submitted(sent, first["request_id"]) and submitted(sent, other["request_id"])
    # The same flat reported again from the other group is still the same incident.
    again = await chat(client, "3号楼502有老人摔倒了起不来，快来人", "m-502-again", "grid-2")
    assert again["merged"] is True and again["request_id"] == first["request_id"]
    keys = await db.fetch(
        "SELECT merge_key FROM api_intake WHERE request_id = ANY($1::text[])",
        [first["request_id"], other["request_id"]],
    )
    assert len({k["merge_key"] for k in keys}) == 2
    assert not [k for k in keys if "502" in k["merge_key"] or "1201" in k["merge_key"]]

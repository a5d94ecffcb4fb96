"""Two families on one floor, written "8号楼5楼502" / "8号楼5楼503", are two requests, through
the real parts: signed HTTP → API subprocess → PostgreSQL's intake statement (the merge under
the advisory lock) → Kafka (session 43 audit A3).

The room after the floor was dropped, both reports had one merge key, and the second family's
life-threatening report was answered merged:true: nobody was sent to 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_merge_resend import commands_in, submitted
from tests.support.bot import BotClient
from tests.support.group_bot import use_group_bot

COMMUNITY = "room-after-floor"
COMPOUND = {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "c1"}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    use_group_bot(stack, "room-after-floor", COMMUNITY, {"grid-1": COMPOUND, "grid-2": COMPOUND})
    await stack.start_api()
    yield stack


async def chat(client: httpx.AsyncClient, text: str, message_id: str, group: str) -> Any:
    sender = {"id": f"wx-{message_id}", "name": "邻居"}
    payload = {"group_id": group, "message_id": message_id, "sender": sender, "text": text}
    answer = await BotClient(client).post("/v1/messages", payload)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_two_flats_of_one_floor_are_two_dispatched_emergencies(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await chat(client, "8号楼5楼502，我老伴晕倒了没有呼吸，快来人", "m-502", "grid-1")
    other = await chat(client, "8号楼5楼503，我妈晕倒了没有呼吸，快来人", "m-503", "grid-2")
    assert first["urgency"] == other["urgency"] == "critical"
    assert first["merged"] is False and other["merged"] is False
    assert other["request_id"] != first["request_id"]
    topic = api.env()["DISPATCH_COMMANDS_TOPIC"]
    sent = await commands_in(api, topic)
    assert submitted(sent, first["request_id"]) and submitted(sent, other["request_id"])
    # The same flat reported again from the other group is still the same incident.
    again = await chat(client, "8号楼5楼502有老人晕倒了没有呼吸", "m-502-again", "grid-2")
    assert again["merged"] is True and again["request_id"] == first["request_id"]
    keys = await db.fetch(
        "SELECT merge_key FROM api_intake WHERE request_id = ANY($1::text[])",
        [first["request_id"], other["request_id"]],
    )
    assert len({k["merge_key"] for k in keys}) == 2
    assert not [k for k in keys if "502" in k["merge_key"] or "503" in k["merge_key"]]

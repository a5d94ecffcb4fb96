"""The seeds' own messages through the real API (signed `POST /v1/messages`), worker,
PostgreSQL and Kafka: the first reply, sent before anyone accepts, never says neighbours are
coming, and tells the requester when to call as the urgency calls for; the line changes
nothing the worker does (an urgent plea is still urgent and advised no number).

Before session 41 a critical one said "邻居们正在赶来" with nobody asked yet, and the
pregnant woman alone (seed 1, urgent hospital transport) was told no number at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.bot import BotClient
from tests.support.group_bot import use_group_bot
from tests.support.waiting import eventually
from tests.unit.test_first_reply_truth_s41 import CALL_NOW, COLLAPSED, IF_URGENT, PLEA, PROMISE

COMMUNITY = "s41-first-reply"
COMPOUND = {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "bishan"}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    use_group_bot(stack, "first-reply", COMMUNITY, {"bishan-1": COMPOUND, "bishan-2": COMPOUND})
    stack.start_worker()
    await stack.start_api()
    yield stack


async def chat(client: httpx.AsyncClient, text: str, message_id: str, group: str) -> Any:
    sender = {"id": f"wx-{message_id}", "name": "小林"}
    payload = {"group_id": group, "message_id": message_id, "sender": sender, "text": text}
    answer = await BotClient(client).post("/v1/messages", payload)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def recorded(db: asyncpg.Connection, request_id: str) -> asyncpg.Record:
    async def row() -> asyncpg.Record | None:
        return await db.fetchrow(
            "SELECT urgency, category, emergency_advised FROM requests WHERE request_id = $1",
            request_id,
        )

    return await eventually(row, what=f"request {request_id} recorded")


async def test_the_pregnant_woman_alone_is_told_when_to_call_and_dispatched_as_before(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    out = await chat(client, PLEA, "m-plea", "bishan-1")
    said = out["reply_text"]
    assert out["urgency"] == "urgent" and out["category"] == "hospital_transport", out
    assert out["advise_emergency_call"] is False and out["emergency_number"] is None, out
    assert IF_URGENT in said and "请立即拨打120急救电话" not in said, said
    assert not PROMISE.search(said), said
    row = await recorded(db, out["request_id"])
    assert row["urgency"] == "urgent" and row["emergency_advised"] is None, dict(row)


async def test_the_collapsed_neighbour_is_told_to_call_first_and_promised_nobody(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    out = await chat(client, COLLAPSED, "m-collapsed", "bishan-2")
    said = out["reply_text"]
    assert out["advise_emergency_call"] is True and out["emergency_number"] == "120", out
    assert said.startswith(CALL_NOW) and "正在通知" in said, said
    assert not PROMISE.search(said), said
    row = await recorded(db, out["request_id"])
    assert row["urgency"] == "critical" and row["emergency_advised"] == "120", dict(row)

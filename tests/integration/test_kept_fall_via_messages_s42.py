"""A group message worded as keeping a request ("别全部取消，摔倒的还需要"), through the real
API (signed `POST /v1/messages`), worker, PostgreSQL and Kafka (session 42, H13).

e01ebce made the classifier read it as no request ("kept:"): a generic bot's API keeps no
thread of its senders and cannot know anything is open, so a fall said this way got
`is_request: false` and nobody was dispatched. Now the classifier reads the fall and only
marks it ("keeps:"); this route dispatches it, as before e01ebce (a duplicate is the safe
mistake, a silent drop is not)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.bot import BotClient
from tests.support.group_bot import use_group_bot
from tests.support.waiting import eventually

COMMUNITY = "s42-kept-fall"
COMPOUND = {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "keepfall"}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    use_group_bot(stack, "kept-fall", COMMUNITY, {"keepfall-1": COMPOUND})
    stack.start_worker()
    await stack.start_api()
    yield stack


@pytest.mark.parametrize(
    "text",
    ["别全部取消，摔倒的还需要", "王奶奶摔倒那条还要，不用全部取消", "摔倒的别取消，还需要人"],
)
async def test_a_fall_worded_as_kept_is_dispatched(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection, text: str
) -> None:
    message_id = f"m-kept-{uuid.uuid4().hex[:12]}"
    payload = {
        "group_id": "keepfall-1",
        "message_id": message_id,
        "sender": {"id": f"wx-{message_id}", "name": "小林"},
        "text": text,
    }
    answer = await BotClient(client).post("/v1/messages", payload)
    assert answer.status_code == 202, answer.text
    out = answer.json()
    assert out["is_request"] is True and out["category"] == "fall", out
    rid = str(out["request_id"])

    async def recorded_open() -> bool:
        q = "SELECT closed_at IS NULL FROM requests WHERE request_id = $1"
        return bool(await db.fetchval(q, rid))

    await eventually(recorded_open, what=f"{rid} recorded open")

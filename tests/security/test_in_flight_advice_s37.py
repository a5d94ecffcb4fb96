"""A life-threatening message's retry that meets its first copy still in flight is refused
409 `in_flight` carrying the call-now reply, as every other refusal of a life-threatening
message does (session 37): before, it was a bare 409, and a bot that posts what it is
answered posted nothing while the first copy might yet fail.

The first copy in flight is made deterministic: its idempotency key is claimed in PostgreSQL
(`bot_calls.claim_key`, as the first copy's intake statement claims it) and never finished,
so the retry meets it however fast the machine. Real API, PostgreSQL and Kafka.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api import idempotency
from dispatcher.api.models import ChatMessageIn, HelpRequestIn
from dispatcher.record.edge import bot_calls
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.intake_posts import NOT_BREATHING, ORDINARY, signed_post

COMMUNITY = "inflight37"
BOT = "if-bot"
SECRET = "whsec_" + base64.b64encode(b"inflight37-bot-secret-0123456789").decode()
GROUP = "if-g0"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    bot = {
        "bot_id": BOT,
        "secrets": [SECRET],
        "communities": [COMMUNITY],
        "groups": {GROUP: {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "cp1"}},
    }
    path = stack.root / "bots-inflight.json"
    path.write_text(json.dumps({"bots": [bot]}), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
    await stack.start_api()
    yield stack


async def post(client: httpx.AsyncClient, path: str, doc: dict[str, Any]) -> httpx.Response:
    return await signed_post(client, path, doc, bot=BOT, secret=SECRET)


async def first_copy_in_flight(db: asyncpg.Connection, message_id: str, payload: Any) -> None:
    key = f"msg:{GROUP}:{message_id}"
    assert await bot_calls.claim_key(db, BOT, key, idempotency.fingerprint(payload))


def in_flight(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    detail: dict[str, Any] = r.json()["detail"]
    assert detail["reason"] == "in_flight" and int(r.headers["retry-after"]) >= 1, detail
    return detail


def advised(detail: dict[str, Any]) -> None:
    assert detail["advise_emergency_call"] is True, detail
    assert detail["emergency_number"] == "120" and "120" in detail["reply_text"], detail
    assert "正在赶来" not in detail["reply_text"], detail  # nobody is known to be coming


def message(text: str) -> dict[str, Any]:
    return {"group_id": GROUP, "message_id": uuid.uuid4().hex, "sender": {"id": "u1"}, "text": text}


async def test_a_chat_messages_retry_in_flight_carries_the_advice(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for text, life_threatening in ((NOT_BREATHING, True), (ORDINARY, False)):
        doc = message(text)
        payload = ChatMessageIn.model_validate(doc).model_dump(mode="json")
        await first_copy_in_flight(db, doc["message_id"], payload)
        detail = in_flight(await post(client, "/v1/messages", doc))
        if life_threatening:
            advised(detail)
        else:
            assert "advise_emergency_call" not in detail, detail


async def test_a_help_requests_retry_in_flight_carries_the_advice(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    message_id = uuid.uuid4().hex
    source = {"bot_id": BOT, "group_id": GROUP, "message_id": message_id}
    place = builders.place(COMMUNITY, building="b7", unit="1", floor=2)
    doc = builders.request(COMMUNITY, place=place, source=source, text=NOT_BREATHING)
    payload = HelpRequestIn.model_validate(doc).model_dump(mode="json")
    await first_copy_in_flight(db, message_id, payload)
    advised(in_flight(await post(client, "/v1/requests", doc)))

"""Session 37, audit bug 2: one rule decides "life-threatening", for the reply and the rate limit.

`POST /v1/requests` with category=medical, urgency=critical and neutral text ("需要帮忙") is
life-threatening by its spec's rule (`RequestSpec.is_life_threatening`: critical in a kind
where life is at risk): its 202 tells the requester to call 120. Yet the route charged it to
the bot's ordinary bucket (only `life_threatening: true` or a red-flag word counted there), so
after ordinary traffic it got a bare 429 `rate_limited`: no 120 advice, nobody dispatched.
Now it draws on the bot's emergency allowance, and past even that the 429 carries the advice.
The chat intake (`messages.life_threatening`) follows the same rule as the spec it builds.
In-process API on the namespace's real PostgreSQL and Kafka.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.deps import ApiDeps
from dispatcher.api.messages import emergency_number, life_threatening
from dispatcher.api.models import ChatMessageIn
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.classify import Classification
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace
from dispatcher.testing.stack import LocalStack
from schemas.vocab import Category, EmergencyNumber, Urgency
from tests.support.bot import bound_payload, sign

COMMUNITY = "rule37"
SECRET = "whsec_" + base64.b64encode(b"rule37-bot-secret-0123456789").decode()


def bot(bot_id: str, **limits: float) -> BotConfig:
    return BotConfig(
        bot_id=bot_id,
        secrets=(SecretStr(SECRET),),
        communities=frozenset({COMMUNITY}),
        groups={"g1": GroupPlace(community_id=COMMUNITY, compound_id="cp1")},
        **limits,  # type: ignore[arg-type]
    )


# The ordinary bucket: two requests, never refilled during the test. The emergency allowance
# of "rule-over": one, never refilled either.
BOTS = [
    bot("rule-chatter", rate_per_minute=0.01, burst=2),
    bot(
        "rule-over",
        rate_per_minute=0.01,
        burst=1,
        emergency_rate_per_minute=0.01,
        emergency_burst=1,
    ),
]


@pytest.fixture(scope="module")
async def client(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack.settings()
    deps = ApiDeps(
        settings=settings, sink=KafkaCommandSink(settings), bots=BotRegistry.from_list(BOTS)
    )
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c
    finally:
        await deps.close()


def request(building: str, **over: Any) -> dict[str, Any]:
    return {
        "place": {"community_id": COMMUNITY, "compound_id": "cp1", "building_id": building},
        "category": "errand",
        "urgency": "normal",
        "text": "帮忙买点菜",
        "source": {"group_id": "g1", "message_id": uuid.uuid4().hex},
    } | over


CRITICAL_MEDICAL = {"category": "medical", "urgency": "critical", "text": "3栋2单元需要帮忙"}


async def post(c: httpx.AsyncClient, bot_id: str, doc: dict[str, Any]) -> httpx.Response:
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = sign(bound_payload("POST", "/v1/requests", body), secret=SECRET)
    headers |= {"x-bot-id": bot_id, "content-type": "application/json"}
    return await c.post("/v1/requests", content=body, headers=headers)


async def recorded(stack: LocalStack, request_id: str) -> bool:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        row = await conn.fetchval("SELECT 1 FROM api_intake WHERE request_id = $1", request_id)
    finally:
        await conn.close()
    return row == 1


async def test_a_critical_medical_request_is_not_refused_by_ordinary_traffic(
    client: httpx.AsyncClient, stack: LocalStack
) -> None:
    for building in ("b1", "b2"):  # the ordinary burst, spent
        assert (await post(client, "rule-chatter", request(building))).status_code == 202
    refused = await post(client, "rule-chatter", request("b3"))
    assert refused.status_code == 429 and refused.json()["detail"]["reason"] == "rate_limited"

    r = await post(client, "rule-chatter", request("b4", **CRITICAL_MEDICAL))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["advise_emergency_call"] and answer["emergency_number"] == "120"
    assert "120" in answer["reply_text"]
    assert await recorded(stack, answer["request_id"])  # dispatched, not only advised


async def test_past_the_emergency_allowance_the_429_carries_the_advice(
    client: httpx.AsyncClient,
) -> None:
    first = await post(client, "rule-over", request("b5", **CRITICAL_MEDICAL))
    assert first.status_code == 202, first.text
    r = await post(client, "rule-over", request("b6", **CRITICAL_MEDICAL))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == "emergency_rate_limited" and detail["advise_emergency_call"]
    assert detail["emergency_number"] == "120" and "120" in detail["reply_text"]


def test_the_chat_intake_charges_by_the_rule_its_spec_follows() -> None:
    """Every kind, urgency and red flag: the admission's verdict and number are the spec's."""
    group = GroupPlace(community_id=COMMUNITY, compound_id="cp1")
    msg = ChatMessageIn(group_id="g1", message_id="m1", sender={"id": "u1"}, text="帮忙")
    for category, urgency, flagged in itertools.product(Category, Urgency, (False, True)):
        found = Classification(
            is_request=True,
            category=category,
            urgency=urgency,
            advise_emergency_call=flagged,
            emergency_number=EmergencyNumber.FIRE if flagged else None,
            advice="请立即拨打120急救电话！" if flagged else None,
        )
        spec = spec_for_message(msg, found, group, request_id="r1", bot_id="b")
        case = (category, urgency, flagged)
        assert life_threatening(found) is spec.is_life_threatening(), case
        assert emergency_number(found) == spec.emergency(), case

"""Chatter must never refuse an emergency: the intake classifies first and only then charges a
rate limit, and a life-threatening message draws on the bot's own emergency allowance, never
on the bot's or group's ordinary buckets (which "好的" and 👍 can exhaust).

Attacks (each answered 429 before, so the requester got no 120 advice and nobody came):
chatter exhausting a group's limit, then "没有呼吸了" in that group; chatter across 20 groups
exhausting the bot's limit, then a fire in a quiet group; the same on `POST /v1/messages` and
`POST /v1/requests`; a flood of events the route ignores (charged nothing now), one carrying a
lone surrogate as its type (was a 500, retried forever). Beyond even the emergency allowance
the requester still gets the call-now advice (never a bare 429) and nobody is dispatched.
Ordinary messages are limited as before. Real API, PostgreSQL and Kafka; default bursts and
emergency allowances, the ordinary buckets refilling too slowly (NO_REFILL) for the pace of the
test to matter: at the default rates a token came back every 1-3 s, so on a slow machine the
round trips that spend a burst could outlast it, and a request expected to be refused was let
through.
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

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support import platform_callbacks as pc
from tests.support.bot import bound_payload, sign

COMMUNITY = "ratelim"
HOOK = "http://127.0.0.1:9/dt"  # DingTalk's sessionWebhook, nowhere: replies are read in PG
CHATTER = ("好的", "收到", "谢谢大家", "哈哈", "👍")
NOT_BREATHING = "3号楼有老人晕倒了，没有呼吸了，快来人"
FIRE = "5号楼着火了，有人被困，快来人"
SECRETS = {
    name: "whsec_" + base64.b64encode(f"{name}-secret-0123456789".encode()).decode()
    for name in ("sb-msg", "sb-req", "sb-over")
}


def groups(prefix: str, n: int) -> dict[str, Any]:
    """Groups of their own compound each: no two tests' incidents merge."""
    return {
        f"{prefix}{i}": {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": f"{prefix}{i}"}
        for i in range(n)
    }


def dingtalk(bot_id: str, n_groups: int, **limits: float) -> dict[str, Any]:
    platform = {
        "kind": "dingtalk",
        "app_secret": pc.DINGTALK_SECRET,
        "session_webhook_prefixes": [HOOK],
    }
    doc = {"bot_id": bot_id, "platform": platform, "communities": [COMMUNITY]}
    return doc | {"groups": groups(bot_id + "-g", n_groups)} | limits


def signed(bot_id: str, n_groups: int, **limits: float) -> dict[str, Any]:
    doc = {"bot_id": bot_id, "secrets": [SECRETS[bot_id]], "communities": [COMMUNITY]}
    return doc | {"groups": groups(bot_id + "-g", n_groups)} | limits


TINY = {"rate_per_minute": 1, "burst": 1, "group_rate_per_minute": 1, "group_burst": 1}
# The default bursts (bot 20, group 10), one token back in 100 minutes: a burst spent is spent
# for the whole test. The emergency allowance stays at its default (it is taken as at least
# the bot's own rate, never less).
NO_REFILL = {"rate_per_minute": 0.01, "group_rate_per_minute": 0.01}
BOTS = [  # every limit at its default unless NO_REFILL or TINY
    dingtalk("dt-group", 1, **NO_REFILL),
    dingtalk("dt-bot", 21, **NO_REFILL),
    dingtalk("dt-ignored", 2),
    dingtalk("dt-ordinary", 1, **NO_REFILL),
    dingtalk("dt-over", 2, emergency_rate_per_minute=1, emergency_burst=1, **TINY),
    signed("sb-msg", 1, **NO_REFILL),
    signed("sb-req", 1, **NO_REFILL),
    signed("sb-over", 1, emergency_rate_per_minute=1, emergency_burst=1, **TINY),
]


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    path = stack.root / "bots-ratelim.json"
    path.write_text(json.dumps({"bots": BOTS}), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
    await stack.start_api()
    yield stack


def message(bot_id: str, group: int, text: str) -> pc.Callback:
    msg_id = "m" + uuid.uuid4().hex
    conversation = f"{bot_id}-g{group}"
    body = pc.dingtalk_body(text, msg_id, conversation=conversation, session_webhook=HOOK + "?s=1")
    return pc.dingtalk_callback(body)


async def callback(client: httpx.AsyncClient, bot_id: str, cb: pc.Callback) -> httpx.Response:
    return await client.post(
        f"/v1/platforms/dingtalk/{bot_id}", headers=cb.headers, content=cb.body
    )


async def chat(client: httpx.AsyncClient, bot_id: str, group: int, text: str) -> httpx.Response:
    return await callback(client, bot_id, message(bot_id, group, text))


async def assert_dispatched(db: asyncpg.Connection, r: httpx.Response) -> None:
    """The advice in the answer and in the group's reply, and the request durably queued."""
    assert r.status_code in (200, 202), r.text
    out = r.json()
    assert out["is_request"] and out["advise_emergency_call"], out
    assert (
        out["emergency_number"] in ("120", "119") and out["emergency_number"] in out["reply_text"]
    )
    assert await db.fetchval(
        "SELECT count(*) FROM api_intake WHERE request_id = $1", out["request_id"]
    )


async def group_reply(db: asyncpg.Connection, request_id: str) -> str:
    return str(
        await db.fetchval("SELECT body FROM api_group_posts WHERE request_id = $1", request_id)
    )


async def test_group_chatter_cannot_refuse_an_emergency_in_that_group(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for i in range(10):
        r = await chat(client, "dt-group", 0, CHATTER[i % 5])
        assert r.status_code == 200 and not r.json()["is_request"], r.text
    refused = await chat(client, "dt-group", 0, "好的")
    assert refused.status_code == 429, refused.text  # the group's limit is spent
    r = await chat(client, "dt-group", 0, NOT_BREATHING)
    await assert_dispatched(db, r)
    assert "120" in await group_reply(db, r.json()["request_id"])


async def test_chatter_across_20_groups_cannot_refuse_an_emergency_elsewhere(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for g in range(20):
        r = await chat(client, "dt-bot", g, "好的，收到")
        assert r.status_code == 200, r.text
    refused = await chat(client, "dt-bot", 0, "好的")
    assert refused.status_code == 429, refused.text  # the bot's limit is spent
    r = await chat(client, "dt-bot", 20, FIRE)
    await assert_dispatched(db, r)
    assert "119" in await group_reply(db, r.json()["request_id"])


def event(bot_id: str, msgtype: str) -> pc.Callback:
    doc = {"msgtype": msgtype, "msgId": uuid.uuid4().hex, "conversationId": f"{bot_id}-g0"}
    return pc.dingtalk_callback(json.dumps(doc).encode())


async def test_a_flood_of_ignored_events_charges_nothing(client: httpx.AsyncClient) -> None:
    for _ in range(30):
        r = await callback(client, "dt-ignored", event("dt-ignored", "picture"))
        assert r.status_code == 200 and r.json() == {"ignored": "dingtalk picture"}, r.text
    for i in range(20):  # the bot's whole burst is still there: 10 per group
        r = await chat(client, "dt-ignored", i % 2, CHATTER[i % 5])
        assert r.status_code == 200, r.text


async def test_a_lone_surrogate_as_the_event_type_is_not_echoed(client: httpx.AsyncClient) -> None:
    body = b'{"msgtype":"\\ud800","msgId":"m1","conversationId":"dt-ignored-g1"}'
    r = await callback(client, "dt-ignored", pc.dingtalk_callback(body))
    assert r.status_code == 200 and r.json() == {"ignored": "dingtalk event"}, r.text
    long = json.dumps({"msgtype": "x" * 500, "msgId": "m2"}).encode()
    r = await callback(client, "dt-ignored", pc.dingtalk_callback(long))
    assert r.json() == {"ignored": "dingtalk event"}, r.text


async def test_ordinary_messages_are_still_limited(client: httpx.AsyncClient) -> None:
    for i in range(10):
        assert (await chat(client, "dt-ordinary", 0, CHATTER[i % 5])).status_code == 200
    for text in ("好的", "谁家有梯子借我用一下，明天还"):  # chatter and a plain request
        r = await chat(client, "dt-ordinary", 0, text)
        assert r.status_code == 429 and r.json()["detail"]["reason"] == "rate_limited", r.text
        assert int(r.headers["retry-after"]) >= 1


async def metric(client: httpx.AsyncClient, route: str) -> float:
    auth = {"Authorization": "Bearer dev-only-metrics-token"}  # Settings' default
    text = (await client.get("/metrics", headers=auth)).text
    line = f'dispatch_api_emergency_over_allowance_total{{route="{route}"}}'
    found = [row.split()[-1] for row in text.splitlines() if row.startswith(line)]
    return float(found[0]) if found else 0.0


async def test_beyond_the_emergency_allowance_the_advice_is_still_given(
    client: httpx.AsyncClient, db: asyncpg.Connection, api: LocalStack
) -> None:
    await assert_dispatched(db, await chat(client, "dt-over", 0, NOT_BREATHING))
    before = await metric(client, "platform")
    r = await chat(client, "dt-over", 1, FIRE)  # a fake flood would be here: advice only
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["advise_emergency_call"] and "119" in out["reply_text"] and out["request_id"] is None
    posted = await db.fetchval(
        "SELECT body FROM api_group_posts WHERE body = $1", out["reply_text"]
    )
    assert posted is not None  # the group hears it
    assert await db.fetchval("SELECT count(*) FROM api_intake WHERE bot_id = 'dt-over'") == 1
    assert await metric(client, "platform") == before + 1
    logged = (api.root / "api.log").read_text(errors="replace")
    assert "dt-over is over its emergency allowance" in logged and "5号楼" not in logged


def signed_post(bot_id: str, path: str, doc: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(doc, ensure_ascii=False).encode()
    auth = sign(bound_payload("POST", path, body), secret=SECRETS[bot_id])
    return body, {"content-type": "application/json", "x-bot-id": bot_id, **auth}


async def post_message(client: httpx.AsyncClient, bot_id: str, text: str) -> httpx.Response:
    doc = {
        "group_id": f"{bot_id}-g0",
        "message_id": uuid.uuid4().hex,
        "sender": {"id": "resident-1"},
        "text": text,
    }
    body, headers = signed_post(bot_id, "/v1/messages", doc)
    return await client.post("/v1/messages", content=body, headers=headers)


async def post_request(
    client: httpx.AsyncClient, bot_id: str, building: str, **over: Any
) -> httpx.Response:
    place = builders.place(COMMUNITY, building=building, unit="1", floor=3)
    source = {"bot_id": bot_id, "group_id": f"{bot_id}-g0", "message_id": uuid.uuid4().hex}
    doc = builders.request(COMMUNITY, place=place, source=source) | over
    body, headers = signed_post(bot_id, "/v1/requests", doc)
    return await client.post("/v1/requests", content=body, headers=headers)


async def test_signed_bot_messages_chatter_cannot_refuse_an_emergency(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for i in range(10):
        assert (await post_message(client, "sb-msg", CHATTER[i % 5])).status_code == 200
    assert (await post_message(client, "sb-msg", "好的")).status_code == 429
    await assert_dispatched(db, await post_message(client, "sb-msg", NOT_BREATHING))


async def test_signed_bot_requests_cannot_be_refused_when_life_threatening(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # Ordinary: urgent, not critical (a critical request to hospital is life-threatening by
    # the spec's own rule, and draws on the emergency allowance: tests/security/
    # test_life_threatening_rule_s37.py).
    for i in range(20):
        r = await post_request(client, "sb-req", f"r{i}", urgency="urgent")
        assert r.status_code == 202, r.text
    refused = await post_request(client, "sb-req", "r20", urgency="urgent")
    assert refused.status_code == 429, refused.text  # ordinary requests: limited as before
    flagged = await post_request(client, "sb-req", "r21", life_threatening=True)
    assert flagged.status_code == 202, flagged.text
    red_flag = await post_request(client, "sb-req", "r22", text=NOT_BREATHING)
    assert red_flag.status_code == 202 and red_flag.json()["emergency_number"] == "120"


async def test_signed_bot_beyond_its_emergency_allowance_gets_the_advice_in_its_429(
    client: httpx.AsyncClient,
) -> None:
    assert (await post_request(client, "sb-over", "o1", text=FIRE)).status_code == 202
    r = await post_request(client, "sb-over", "o2", text=NOT_BREATHING)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == "emergency_rate_limited" and detail["advise_emergency_call"]
    assert detail["emergency_number"] == "120" and "120" in detail["reply_text"]
    said = await post_message(client, "sb-over", FIRE)
    assert said.status_code == 429 and "119" in said.json()["detail"]["reply_text"], said.text

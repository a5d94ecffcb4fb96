"""A replayed signed delivery is refused before it is charged: replaying one captured emergency
can never spend a bot's emergency allowance.

The attack (session 37): `POST /v1/messages` had come to classify and charge a message before
claiming its webhook-id (so that with PostgreSQL out of reach an emergency is still answered
with the call-now advice). A replay of one captured signed emergency (the very same bytes and
headers, inside the 5-minute window) was thus charged to the bot's emergency allowance before
its 409: a few dozen replays spent it, and a real emergency then got 429
`emergency_rate_limited` (advice only, nobody dispatched). The platform callbacks charged
before claiming too (a DingTalk delivery stays fresh for an hour), and so did
`POST /v1/requests` (its webhook-id is claimed in its intake statement). Now each is
classified, its delivery claimed, and only then charged; a 429 after the claim gives the
delivery back (its re-send is read again). Real API, PostgreSQL and Kafka; the bots' buckets
refill too slowly (NO_REFILL) for the pace of the test to matter.
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

from dispatcher.api.bot_auth import DeferredClaim, releases_webhook_id
from dispatcher.api.errors import fail
from dispatcher.record.edge.intake import WebhookId
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support import platform_callbacks as pc
from tests.support.bot import bound_payload, sign

COMMUNITY = "replaycharge"
HOOK = "http://127.0.0.1:9/dt"  # DingTalk's sessionWebhook, nowhere: replies are read in PG
NOT_BREATHING = "3号楼有老人晕倒了，没有呼吸了，快来人"
FIRE = "5号楼着火了，有人被困，快来人"
SECRETS = {
    name: "whsec_" + base64.b64encode(f"{name}-secret-0123456789".encode()).decode()
    for name in ("rc-msg", "rc-req", "rc-over")
}
# An emergency allowance of 3 (it is taken as at least the bot's own burst), one token back
# in 100 minutes: spent is spent for the whole test.
SMALL = {
    "rate_per_minute": 0.01,
    "burst": 2,
    "group_rate_per_minute": 0.01,
    "emergency_rate_per_minute": 0.01,
    "emergency_burst": 3,
}
REPLAYS = 10  # more than the allowance


def groups(bot_id: str) -> dict[str, Any]:
    return {
        f"{bot_id}-g{i}": {
            "community_id": COMMUNITY,
            "grid_id": "g1",
            "compound_id": f"{bot_id}{i}",
        }
        for i in range(2)
    }


def signed(bot_id: str) -> dict[str, Any]:
    doc = {"bot_id": bot_id, "secrets": [SECRETS[bot_id]], "communities": [COMMUNITY]}
    return doc | {"groups": groups(bot_id)} | SMALL


def dingtalk(bot_id: str) -> dict[str, Any]:
    platform = {
        "kind": "dingtalk",
        "app_secret": pc.DINGTALK_SECRET,
        "session_webhook_prefixes": [HOOK],
    }
    doc = {"bot_id": bot_id, "platform": platform, "communities": [COMMUNITY]}
    return doc | {"groups": groups(bot_id)} | SMALL


BOTS = [signed("rc-msg"), signed("rc-req"), signed("rc-over"), dingtalk("rc-dt")]


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    path = stack.root / "bots-replaycharge.json"
    path.write_text(json.dumps({"bots": BOTS}), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
    await stack.start_api()
    yield stack


def signed_post(bot_id: str, path: str, doc: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(doc, ensure_ascii=False).encode()
    auth = sign(bound_payload("POST", path, body), secret=SECRETS[bot_id])
    return body, {"content-type": "application/json", "x-bot-id": bot_id, **auth}


def chat_message(bot_id: str, text: str, group: int = 0) -> tuple[bytes, dict[str, str]]:
    doc = {
        "group_id": f"{bot_id}-g{group}",
        "message_id": uuid.uuid4().hex,
        "sender": {"id": "resident-1"},
        "text": text,
    }
    return signed_post(bot_id, "/v1/messages", doc)


def help_request(bot_id: str, building: str, text: str) -> tuple[bytes, dict[str, str]]:
    place = builders.place(COMMUNITY, building=building, unit="1", floor=3)
    source = {"bot_id": bot_id, "group_id": f"{bot_id}-g0", "message_id": uuid.uuid4().hex}
    doc = builders.request(COMMUNITY, place=place, source=source) | {"text": text}
    return signed_post(bot_id, "/v1/requests", doc)


async def dispatched(db: asyncpg.Connection, r: httpx.Response) -> None:
    assert r.status_code in (200, 202), r.text
    out = r.json()
    assert out["advise_emergency_call"] and out["request_id"], out
    assert await db.fetchval(
        "SELECT count(*) FROM api_intake WHERE request_id = $1", out["request_id"]
    )


async def replayed_refused(
    client: httpx.AsyncClient, path: str, body: bytes, h: dict[str, str]
) -> None:
    for _ in range(REPLAYS):
        r = await client.post(path, content=body, headers=h)
        assert r.status_code == 409 and r.json()["detail"]["reason"] == "replayed", r.text


async def test_replaying_a_signed_emergency_message_spends_no_allowance(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body, h = chat_message("rc-msg", NOT_BREATHING)
    await dispatched(db, await client.post("/v1/messages", content=body, headers=h))
    await replayed_refused(client, "/v1/messages", body, h)
    fresh_body, fresh_h = chat_message("rc-msg", FIRE, group=1)
    await dispatched(db, await client.post("/v1/messages", content=fresh_body, headers=fresh_h))


async def test_replaying_a_signed_emergency_request_spends_no_allowance(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body, h = help_request("rc-req", "q1", NOT_BREATHING)
    await dispatched(db, await client.post("/v1/requests", content=body, headers=h))
    await replayed_refused(client, "/v1/requests", body, h)
    fresh_body, fresh_h = help_request("rc-req", "q2", FIRE)
    await dispatched(db, await client.post("/v1/requests", content=fresh_body, headers=fresh_h))


def dingtalk_message(text: str, group: int) -> pc.Callback:
    body = pc.dingtalk_body(
        text, "m" + uuid.uuid4().hex, conversation=f"rc-dt-g{group}", session_webhook=HOOK + "?s=1"
    )
    return pc.dingtalk_callback(body)


async def test_replaying_a_platform_emergency_delivery_spends_no_allowance(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    path = "/v1/platforms/dingtalk/rc-dt"
    cb = dingtalk_message(NOT_BREATHING, 0)
    await dispatched(db, await client.post(path, content=cb.body, headers=cb.headers))
    await replayed_refused(client, path, cb.body, cb.headers)
    fresh = dingtalk_message(FIRE, 1)
    await dispatched(db, await client.post(path, content=fresh.body, headers=fresh.headers))


async def test_over_the_allowance_the_claim_is_given_back(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The 429 after the claim releases it: the bot's re-send of that very delivery is read
    again (here: over the allowance still, so 429 again, never 409 `replayed`)."""
    for i in range(3):  # the allowance, spent by real (distinct) emergencies
        body, h = help_request("rc-over", f"o{i}", FIRE)
        await dispatched(db, await client.post("/v1/requests", content=body, headers=h))
    for path, (body, h) in (
        ("/v1/requests", help_request("rc-over", "o9", NOT_BREATHING)),
        ("/v1/messages", chat_message("rc-over", NOT_BREATHING)),
    ):
        for _ in range(2):
            r = await client.post(path, content=body, headers=h)
            assert r.status_code == 429, r.text
            assert r.json()["detail"]["reason"] == "emergency_rate_limited"
        held = await db.fetchval(
            "SELECT count(*) FROM api_webhook_ids WHERE bot_id = 'rc-over' AND webhook_id = $1",
            h["webhook-id"],
        )
        assert held == 0


def test_a_rate_limits_429_gives_back_a_claimed_webhook_id() -> None:
    claimed = DeferredClaim(WebhookId("bot", "w-1"), claimed=True)
    unclaimed = DeferredClaim(WebhookId("bot", "w-2"))
    limited = fail(429, "rate_limited", "x")
    assert releases_webhook_id(limited, claimed) and releases_webhook_id(limited, None)
    assert not releases_webhook_id(limited, unclaimed)  # maybe the earlier delivery's
    assert not releases_webhook_id(fail(409, "replayed", "x"), claimed)

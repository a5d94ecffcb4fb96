"""Session 37, audit bugs 3 and 5: the intake while PostgreSQL or Kafka is out of reach, and a
platform's text that PostgreSQL cannot hold.

Before: with PostgreSQL down, `POST /v1/messages`, `POST /v1/requests` and a DingTalk callback
answered a bare 500 (the connection error was never mapped; `/v1/messages` claimed its
webhook-id in PostgreSQL before the message was even classified), and with Kafka down a bare
503 `queue_unavailable`: a life-threatening message got no "call 120 now", and the platform's
group was told nothing. Now: 503 with a reason and Retry-After (never a 2xx: nothing is
acknowledged that is not durably stored), and for a life-threatening message or request the
503 carries the call-now reply (`reply_text`, `advise_emergency_call`, `emergency_number`, as
a 202 does); a platform's group is told it at once (recorded first while PostgreSQL is up,
posted straight to the group while it is not).

Bug 5: a platform message whose text held a NUL or a lone surrogate (half an emoji) was refused
400 before it was classified, on every re-send (the platform cannot correct it), so an
emergency in it was never seen; now those become U+FFFD and the message is read.

The outages are real and local to one in-process API: its PostgreSQL DSN or Kafka bootstrap
names a loopback port nothing listens on (the shared stack keeps running for the others).
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.testing.ports import free_port
from dispatcher.testing.stack import LocalStack
from tests.support import platform_callbacks as pc
from tests.support.dingtalk_hook import Hook
from tests.support.intake_posts import (
    CRITICAL_MEDICAL,
    ORDINARY,
    advised,
    group_message,
    help_request,
    refused,
    signed_post,
)
from tests.support.intake_posts import NOT_BREATHING as EMERGENCY
from tests.support.waiting import eventually

COMMUNITY = "outage37"
SECRET = "whsec_" + base64.b64encode(b"outage37-bot-secret-0123456789").decode()
GROUP = "cidOutage37=="


def bots(hook: str) -> BotRegistry:
    group = {"g1": GroupPlace(community_id=COMMUNITY, compound_id="cp1")}
    signed = BotConfig(
        bot_id="out-bot",
        secrets=(SecretStr(SECRET),),
        communities=frozenset({COMMUNITY}),
        groups=group,
    )
    platform = PlatformConfig(
        kind="dingtalk",
        app_secret=SecretStr(pc.DINGTALK_SECRET),
        session_webhook_prefixes=(hook,),
    )
    dingtalk = BotConfig(
        bot_id="out-dt",
        platform=platform,
        communities=frozenset({COMMUNITY}),
        groups={GROUP: GroupPlace(community_id=COMMUNITY, compound_id="cp2")},
    )
    return BotRegistry.from_list([signed, dingtalk])


def closed_port() -> int:
    return free_port()  # nothing of ours listens on it: connections are refused


@contextlib.asynccontextmanager
async def api(
    stack: LocalStack, hook: Hook, *, pg_down: bool = False, kafka_down: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    overrides: dict[str, object] = {}
    if pg_down:
        overrides["pg_dsn"] = f"postgresql://dispatch@127.0.0.1:{closed_port()}/dispatch"
    if kafka_down:
        overrides["kafka_bootstrap"] = f"127.0.0.1:{closed_port()}"
    settings = stack.settings(**overrides)
    deps = ApiDeps(settings=settings, sink=KafkaCommandSink(settings), bots=bots(hook.url))
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            yield c
    finally:
        await deps.close()


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    async with Hook() as h:
        yield h


async def signed(c: httpx.AsyncClient, path: str, doc: dict[str, Any]) -> httpx.Response:
    return await signed_post(c, path, doc, bot="out-bot", secret=SECRET)


def message(text: str) -> dict[str, Any]:
    return group_message(text)


def request(**over: Any) -> dict[str, Any]:
    return help_request(COMMUNITY, **over)


async def dingtalk(
    c: httpx.AsyncClient, hook: Hook, text: str, msg_id: str | None = None
) -> httpx.Response:
    """A group message as DingTalk delivers it (again, newly signed, with its `msg_id`)."""
    msg_id = msg_id or uuid.uuid4().hex
    body = pc.dingtalk_body(text, msg_id, conversation=GROUP, session_webhook=hook.url)
    cb = pc.dingtalk_callback(body)
    return await c.post("/v1/platforms/dingtalk/out-dt", headers=cb.headers, content=cb.body)


@pytest.mark.parametrize(
    "down,reason",
    [("pg", "database_unavailable"), ("kafka", "queue_unavailable")],
)
async def test_a_life_threatening_message_or_request_is_refused_with_the_advice(
    stack: LocalStack, hook: Hook, down: str, reason: str
) -> None:
    async with api(stack, hook, pg_down=down == "pg", kafka_down=down == "kafka") as c:
        advised(refused(await signed(c, "/v1/messages", message(EMERGENCY)), reason))
        advised(refused(await signed(c, "/v1/requests", request(**CRITICAL_MEDICAL)), reason))
        # An ordinary one: the same refusal, without advice (nothing to call about).
        plain = refused(await signed(c, "/v1/messages", message(ORDINARY)), reason)
        assert "advise_emergency_call" not in plain, plain
        plain = refused(await signed(c, "/v1/requests", request()), reason)
        assert "advise_emergency_call" not in plain, plain


@pytest.mark.parametrize(
    "down,reason", [("pg", "database_unavailable"), ("kafka", "queue_unavailable")]
)
async def test_a_platform_group_is_told_to_call_120_at_once(
    stack: LocalStack, hook: Hook, down: str, reason: str
) -> None:
    async with api(stack, hook, pg_down=down == "pg", kafka_down=down == "kafka") as c:
        r = await dingtalk(c, hook, EMERGENCY, "msg-first")
        advised(refused(r, reason))  # not 200: the platform re-sends it once we are back
        await eventually(hook.heard, timeout=30, what="the group to be told")
        assert len(hook.said) == 1 and "120" in hook.said[0], hook.said
        assert hook.said[0] == r.json()["detail"]["reply_text"]
        # The platform's re-send during the outage: refused again, the group not told twice;
        # an ordinary message: refused the same way, the group told nothing.
        advised(refused(await dingtalk(c, hook, EMERGENCY, "msg-first"), reason))
        refused(await dingtalk(c, hook, ORDINARY), reason)
        # Another emergency: told. The group's posts go out in order, so by then any post
        # of the two above would have arrived before it.
        advised(refused(await dingtalk(c, hook, EMERGENCY, "msg-second"), reason))
        await eventually(lambda: hook.heard(2), timeout=30, what="the second emergency told")
    assert len(hook.said) == 2, hook.said


@pytest.mark.parametrize("unstorable", ["\ud83d", "\x00"])
async def test_a_platform_emergency_with_unstorable_text_is_read(
    stack: LocalStack, hook: Hook, unstorable: str
) -> None:
    """Audit bug 5: half an emoji (a lone surrogate) or a NUL in a platform's text was refused
    400 before it was classified, on every re-send: the emergency in it was never seen. The
    platform cannot correct it; it is read with U+FFFD in its place."""
    doc = json.loads(
        pc.dingtalk_body(
            EMERGENCY + "X", uuid.uuid4().hex, conversation=GROUP, session_webhook=hook.url
        )
    )
    doc["text"]["content"] = doc["text"]["content"].replace("X", unstorable)
    doc["senderNick"] = "住户" + unstorable
    cb = pc.dingtalk_callback(
        json.dumps(doc, ensure_ascii=True).encode()
    )  # "\ud83d" as JSON has it
    async with api(stack, hook) as c:
        r = await c.post("/v1/platforms/dingtalk/out-dt", headers=cb.headers, content=cb.body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["is_request"] and answer["advise_emergency_call"], answer
        assert answer["emergency_number"] == "120" and answer["request_id"], answer
        await eventually(hook.heard, timeout=30, what="the group to be told")
    assert "120" in hook.said[0], hook.said

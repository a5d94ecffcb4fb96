"""Session 38: an API that starts while Kafka is out of reach never loads the live
configuration (bots come from Kafka's `config` topic), and every bot message and platform
callback was refused with a bare 503 `config_loading`: no Retry-After, and "没有呼吸了" got no
call-now advice, while the README's rule for an outage (nobody can be dispatched) is a 503
with Retry-After, carrying the call-now reply for a life-threatening message.

Now: 503 `config_loading` with Retry-After; on the intake routes a life-threatening message
or request is read by the rules (no configuration needed) and its 503 carries the call-now
reply (`reply_text`, `advise_emergency_call`, `emergency_number`). No bot can be known, so
none is authenticated: the advice is public text, the same for any caller (no bot-id
oracle), and nothing is claimed or stored. A platform callback is answered 503 with
Retry-After (the platform re-sends it; without the configuration its robot's credentials are
unknown, so its group cannot be told).

The real app with its lifespan (the configuration follower running) in-process, its Kafka
bootstrap a loopback port nothing listens on; its PostgreSQL is the stack's, up.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from dispatcher.api.app import create_app
from dispatcher.testing.ports import free_port
from dispatcher.testing.stack import LocalStack
from tests.support import platform_callbacks as pc
from tests.support.intake_posts import (
    CRITICAL_MEDICAL,
    ORDINARY,
    advised,
    group_message,
    help_request,
    signed_post,
)
from tests.support.intake_posts import NOT_BREATHING as EMERGENCY
from tests.support.intake_posts import refused as refused_for

COMMUNITY = "loading38"
BOT = "load-bot"
SECRET = "whsec_" + base64.b64encode(b"loading38-bot-secret-0123456789").decode()
GROUP = "cidLoading38=="


def bots_file(tmp_path: Path) -> Path:
    """The bots a loaded configuration would hold (here only its dev-mode bootstrap)."""
    place = {"community_id": COMMUNITY, "compound_id": "cp1"}
    doc = {
        "bots": [
            {
                "bot_id": BOT,
                "secrets": [SECRET],
                "communities": [COMMUNITY],
                "groups": {"g1": place},
            },
            {
                "bot_id": "load-dt",
                "platform": {
                    "kind": "dingtalk",
                    "app_secret": pc.DINGTALK_SECRET,
                    "session_webhook_prefixes": ["http://127.0.0.1:9/dt"],
                },
                "communities": [COMMUNITY],
                "groups": {GROUP: place},
            },
        ]
    }
    path = tmp_path / "bots.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def loading_api(stack: LocalStack, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack.settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}", bots_file=str(bots_file(tmp_path))
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            # The precondition: the configuration cannot be read (Kafka holds it).
            ready = (await c.get("/readyz")).json()
            assert ready["checks"]["config"] == "loading", ready
            yield c


async def signed(
    c: httpx.AsyncClient, path: str, doc: dict[str, Any], bot: str = BOT, secret: str = SECRET
) -> httpx.Response:
    return await signed_post(c, path, doc, bot=bot, secret=secret)


def message(text: str) -> dict[str, Any]:
    return group_message(text)


def request(**over: Any) -> dict[str, Any]:
    return help_request(COMMUNITY, **over)


def refused(r: httpx.Response) -> dict[str, Any]:
    """503 `config_loading` with a Retry-After: nothing acknowledged, the caller retries."""
    return refused_for(r, "config_loading")


def plain(detail: dict[str, Any]) -> None:
    assert "advise_emergency_call" not in detail and "reply_text" not in detail, detail


async def test_a_life_threatening_message_gets_the_call_now_advice(
    stack: LocalStack, tmp_path: Path
) -> None:
    async with loading_api(stack, tmp_path) as c:
        emergency = refused(await signed(c, "/v1/messages", message(EMERGENCY)))
        advised(emergency)
        advised(refused(await signed(c, "/v1/requests", request(**CRITICAL_MEDICAL))))
        # Nobody can be authenticated yet: any caller gets the same public advice (no
        # bot-id oracle), and nothing more.
        stranger = await signed(c, "/v1/messages", message(EMERGENCY), "nobody", "whsec_AAAA")
        assert refused(stranger) == emergency
        # An ordinary one: the same refusal, without advice (nothing to call about).
        plain(refused(await signed(c, "/v1/messages", message(ORDINARY))))
        plain(refused(await signed(c, "/v1/requests", request())))
        # Other bot routes: the same outage answer.
        status = await c.get(f"/v1/requests/{uuid.uuid4()}", headers={"x-bot-id": BOT})
        plain(refused(status))
    # Nothing was claimed or stored for any of them.
    conn = await asyncpg.connect(stack.settings().pg_dsn.get_secret_value())
    try:
        assert await conn.fetchval("SELECT count(*) FROM api_webhook_ids") == 0
        assert await conn.fetchval("SELECT count(*) FROM api_idempotency") == 0
    finally:
        await conn.close()


async def test_a_platform_callback_is_answered_so_that_it_is_sent_again(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The robot's credentials come with the configuration: the callback can be neither
    checked nor read, its group not told. 503 with Retry-After: DingTalk re-sends it."""
    async with loading_api(stack, tmp_path) as c:
        body = pc.dingtalk_body(EMERGENCY, uuid.uuid4().hex, conversation=GROUP)
        cb = pc.dingtalk_callback(body)
        r = await c.post("/v1/platforms/dingtalk/load-dt", headers=cb.headers, content=cb.body)
        plain(refused(r))


async def test_staff_reading_the_configuration_are_told_when_to_retry(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The staff configuration API: the same outage answer, with its Retry-After."""
    async with loading_api(stack, tmp_path) as c:
        r = await c.get("/v1/admin/config", headers={"Authorization": "Bearer dev-staff-token"})
        plain(refused(r))

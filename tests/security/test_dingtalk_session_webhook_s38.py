"""A DingTalk callback's `sessionWebhook` is in the body, which the sign does not cover
(audit s38, finding 7). One PostgreSQL cannot store (a NUL, a lone surrogate: JSON's
"\\u0000" and "\\ud800") was written through to `api_group_threads`: PostgreSQL refused
it, the callback was a 500 and the message never dispatched; one pointing elsewhere (SSRF)
was stored though the sender would never post to it. The adapter drops both now: the
correctly signed callback is a 200, the request is dispatched, no session webhook is
stored, and the group hears through its configured robot. Real API, worker, Kafka and
PostgreSQL; a local receiver plays the robot, the session webhook and the phones."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_dingtalk import DingTalk
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.waiting import eventually


class DingTalkWithRobots(DingTalk):
    """Each group also has its DingTalk group robot: where the group hears without a
    session webhook."""

    def robots_doc(self) -> dict[str, Any]:
        return self.robots_at("/robot/{group}", "dingtalk")


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, DingTalkWithRobots, time_scale=0.005):
        yield running


# (name, group, the sessionWebhook given a receiver URL under the configured prefix)
CASES = [
    ("nul", "g-main", lambda good: good + "\u0000"),
    ("lone surrogate", "g-retry", lambda good: good + "\ud800"),
    ("foreign host", "g-refuse", lambda good: "https://evil.example/robot/sendBySession?s=1"),
    ("path escape", "g-edge", lambda good: good.replace("/dt/", "/dt/../steal/")),
]


@pytest.mark.parametrize(("name", "group", "hook_of"), CASES, ids=[c[0] for c in CASES])
async def test_an_unusable_session_webhook_is_dropped_and_the_message_dispatched(
    run: flow.Running, name: str, group: str, hook_of: Any
) -> None:
    p = run.platform
    good = p.receiver.url(f"/dt/{group}") + "?session=s-" + group
    hook = hook_of(good)
    doc = json.loads(
        pc.dingtalk_body(
            flow.pipe(20 + [c[0] for c in CASES].index(name)),
            f"m-hook-{uuid.uuid4().hex[:12]}",
            conversation=p.group_id(group),
        )
    )
    doc["sessionWebhook"] = hook
    body = json.dumps(doc, ensure_ascii=True).encode()  # "\u0000", "\ud800" as JSON escapes
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, pc.dingtalk_callback(body))
    assert r.status_code == 200, r.text
    assert r.json()["is_request"] is True, r.text
    request_id = r.json()["request_id"]
    conn = await asyncpg.connect(run.stack.pg_dsn)
    try:
        thread = await conn.fetchrow(
            "SELECT session_webhook FROM api_group_threads WHERE request_id = $1", request_id
        )
        assert thread is not None and thread["session_webhook"] is None, dict(thread or {})
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'request_opened'",
                request_id,
            ),
            what="the request dispatched",
        )
    finally:
        await conn.close()
    # The group hears through its robot; nothing went to the session webhook, good or not.
    await run.receiver.wait_for(
        lambda: any("已收到" in t for t in robot_texts(p, group)), timeout=30
    )
    assert run.receiver.for_path(f"/dt/{group}") == []
    assert run.receiver.for_path(f"/steal/{group}") == []


def robot_texts(p: flow.Platform, group: str) -> list[str]:
    return [
        str((r.json().get("text") or {}).get("content"))
        for r in p.receiver.for_path(f"/robot/{group}")
    ]

"""DingTalk (钉钉) robot callbacks through the real API and worker. The body comes from
`dingtalk-stream`'s message model, the signature from DingTalk's published sample; the
group's messages go to the conversation's sessionWebhook (played by a local receiver)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback


class DingTalk(flow.Platform):
    kind = "dingtalk"
    bot_id = "dingtalk-robot"

    def group_id(self, group: str) -> str:
        return f"cid{group}+x=="

    def platform_doc(self) -> dict[str, Any]:
        return {
            "kind": "dingtalk",
            "app_secret": pc.DINGTALK_SECRET,
            "session_webhook_prefixes": [self.receiver.url("/dt/")],
        }

    def _body(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> bytes:
        return pc.dingtalk_body(
            text,
            msg_id,
            sender=sender,
            conversation=self.group_id(group),
            session_webhook=self.receiver.url(f"/dt/{group}") + "?session=s-" + group,
        )

    def message(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> Callback:
        return pc.dingtalk_callback(self._body(text, msg_id, group, sender))

    def stale(self, text: str, msg_id: str, group: str) -> Callback:
        return pc.dingtalk_callback(
            self._body(text, msg_id, group), ts_ms=int((time.time() - 7200) * 1000)
        )

    def forged(self, text: str, msg_id: str, group: str) -> Callback:
        return pc.dingtalk_callback(self._body(text, msg_id, group), secret="not-the-secret-00")

    def tampered(self, cb: Callback) -> Callback:
        # DingTalk signs the timestamp only: tampering means a timestamp the sign is not for.
        ts = str(int(cb.headers["timestamp"]) + 1)
        return replace(cb, headers={**cb.headers, "timestamp": ts})

    def group_path(self, group: str) -> str:
        return f"/dt/{group}"


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, DingTalk):
        yield running


class TestDingTalk(flow.PlatformSuite):
    """Reply and updates in order, retries once, refusals, 10 KB and emoji, escalation."""


async def test_session_webhook_elsewhere_is_never_called(run: flow.Running) -> None:
    """A sessionWebhook outside the configured prefixes (SSRF) is not used: the callback is
    accepted and dispatched, but nothing is posted to that URL."""
    p = run.platform
    body = pc.dingtalk_body(
        flow.pipe(9),
        "m-ssrf-1",
        conversation=p.group_id("g-edge"),
        session_webhook=run.receiver.url("/elsewhere/steal") + "?session=x",
    )
    before = sum("已收到" in t for t in p.group_texts("g-edge"))
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, pc.dingtalk_callback(body))
        assert r.status_code == 200 and r.json()["is_request"], r.text
        # The group's messages go out one at a time, in order: once the next message's
        # reply has arrived, the first one's has been dealt with.
        r2 = await run.send(client, p.message(flow.pipe(10), "m-ssrf-2", "g-edge"))
        assert r2.status_code == 200
    await run.receiver.wait_for(
        lambda: sum("已收到" in t for t in p.group_texts("g-edge")) > before, timeout=30
    )
    assert run.receiver.for_path("/elsewhere/steal") == []

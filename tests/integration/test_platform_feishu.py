"""Feishu / Lark event callbacks through the real API and worker. Every message callback
is first checked by lark-oapi's own event handler (the SDK must accept what we accept)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback
from tests.support.stack import LocalStack


class Feishu(flow.Platform):
    kind = "feishu"
    bot_id = "feishu-robot"

    def group_id(self, group: str) -> str:
        return f"oc_{group}"

    def platform_doc(self) -> dict[str, Any]:
        return {
            "kind": "feishu",
            "verification_token": pc.FEISHU_TOKEN,
            "encrypt_key": pc.FEISHU_ENCRYPT_KEY,
        }

    def robots_doc(self) -> dict[str, Any]:
        return self.robots_at("/robot/{group}/", "feishu")

    def message(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> Callback:
        cb = pc.feishu_callback(
            pc.feishu_event(text, msg_id, sender=sender, chat=self.group_id(group))
        )
        assert pc.lark_accepts(cb)  # Feishu's own handler takes it
        return cb

    def stale(self, text: str, msg_id: str, group: str) -> Callback:
        doc = pc.feishu_event(text, msg_id, chat=self.group_id(group))
        return pc.feishu_callback(doc, ts=int(time.time()) - 3600)

    def forged(self, text: str, msg_id: str, group: str) -> Callback:
        doc = pc.feishu_event(text, msg_id, chat=self.group_id(group))
        cb = pc.feishu_callback(doc, key="not the encrypt key")
        assert not pc.lark_accepts(cb)
        return cb

    def tampered(self, cb: Callback) -> Callback:
        bad = cb.tampered()
        assert not pc.lark_accepts(bad)
        return bad

    def group_path(self, group: str) -> str:
        return f"/robot/{group}/hook"


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, Feishu):
        yield running


async def test_url_verification_challenge(run: flow.Running) -> None:
    doc = {"challenge": "ch-4711", "token": pc.FEISHU_TOKEN, "type": "url_verification"}
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, pc.feishu_callback(doc))
        assert r.status_code == 200 and r.json() == {"challenge": "ch-4711"}
        doc["token"] = "guess"
        bad = await run.send(client, pc.feishu_callback(doc))
        assert bad.status_code == 401 and bad.json()["detail"]["reason"] == "bad_token"


async def test_same_event_redelivered_dispatches_once(run: flow.Running) -> None:
    """Feishu re-delivers an event with the same event_id and message id."""
    p = run.platform
    doc = pc.feishu_event(flow.pipe(11), "om-redeliver", chat=p.group_id("g-extra"))
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        answers = [await run.send(client, pc.feishu_callback(doc)) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert json.loads(answers[0].text)["request_id"] == json.loads(answers[1].text)["request_id"]


class TestFeishu(flow.PlatformSuite):
    """Reply and updates in order, retries once, refusals, 10 KB and emoji, escalation."""

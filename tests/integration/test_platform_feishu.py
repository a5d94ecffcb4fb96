"""Feishu / Lark event callbacks through the real API and worker. Every message callback
is first checked by lark-oapi's own event handler (the SDK must accept what we accept)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver, Reply
from dispatcher.testing.stack import LocalStack
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback

FEISHU_API = "/feishu-api"
TOKEN_PATH = FEISHU_API + "/open-apis/auth/v3/tenant_access_token/internal"
REPLY = re.compile(re.escape(FEISHU_API) + r"/open-apis/im/v1/messages/([^/]+)/reply$")


class Feishu(flow.Platform):
    """A Feishu app: the group hears back through the reply API (the receiver plays
    open.feishu.cn: a tenant token, then replies to the asking message)."""

    kind = "feishu"
    bot_id = "feishu-robot"

    def __init__(self, receiver: PushReceiver) -> None:
        super().__init__(receiver)
        token = {"code": 0, "msg": "ok", "tenant_access_token": "t-test-token", "expire": 7200}
        receiver.set_default(TOKEN_PATH, Reply(body=json.dumps(token).encode()))
        self.asked: dict[str, set[str]] = {}  # group → message ids sent in it

    def group_id(self, group: str) -> str:
        return f"oc_{group}"

    def platform_doc(self) -> dict[str, Any]:
        return {
            "kind": "feishu",
            "verification_token": pc.FEISHU_TOKEN,
            "encrypt_key": pc.FEISHU_ENCRYPT_KEY,
            "app_id": "cli_test",
            "app_secret": "feishu-app-secret-for-tests",
            "api_base": self.receiver.url(FEISHU_API),
        }

    def group_texts(self, group: str) -> list[str]:
        """Replies to the messages asked in `group`, in the order they arrived."""
        asked = self.asked.get(group, set())
        out = []
        for r in sorted(self.receiver.received, key=lambda r: r.at):
            m = REPLY.match(r.path)
            if m and m[1] in asked:
                assert r.headers["authorization"] == "Bearer t-test-token"
                out.append(json.loads(r.json()["content"])["text"])
        return out

    def message(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> Callback:
        self.asked.setdefault(group, set()).add(msg_id)
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
        raise NotImplementedError("replies go to the asking message, see group_texts")


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


async def test_reply_api_token_is_cached_and_each_post_has_its_own_uuid(
    run: flow.Running,
) -> None:
    """Runs last: by now dozens of replies went out through the reply API."""
    replies = [r for r in run.receiver.received if REPLY.match(r.path)]
    assert len(replies) >= 10
    assert len(run.receiver.for_path(TOKEN_PATH)) == 1  # one tenant token, cached
    token_request = run.receiver.for_path(TOKEN_PATH)[0].json()
    assert token_request == {"app_id": "cli_test", "app_secret": "feishu-app-secret-for-tests"}
    uuids = [r.json()["uuid"] for r in replies]
    assert len(set(uuids)) == len(uuids)  # Feishu drops a repeated uuid: none repeated

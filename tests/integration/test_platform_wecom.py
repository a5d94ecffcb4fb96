"""WeCom (企业微信) callbacks through the real API and worker; wechatpy builds them."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto

from dispatcher.testing.stack import LocalStack
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback


class WeCom(flow.Platform):
    kind = "wecom"
    bot_id = "wecom-robot"

    def group_id(self, group: str) -> str:
        return f"wrk{group}"

    def platform_doc(self) -> dict[str, Any]:
        return {
            "kind": "wecom",
            "token": pc.WECOM_TOKEN,
            "encoding_aes_key": pc.WECOM_AES_KEY,
            "receive_id": pc.WECOM_CORP,
        }

    def robots_doc(self) -> dict[str, Any]:
        return self.robots_at("/robot/{group}", "wecom")

    def message(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> Callback:
        return pc.wecom_callback(pc.wecom_group_xml(text, msg_id, sender, self.group_id(group)))

    def stale(self, text: str, msg_id: str, group: str) -> Callback:
        xml = pc.wecom_group_xml(text, msg_id, "resident-1", self.group_id(group))
        return pc.wecom_callback(xml, ts=int(time.time()) - 3600)

    def forged(self, text: str, msg_id: str, group: str) -> Callback:
        xml = pc.wecom_group_xml(text, msg_id, "resident-1", self.group_id(group))
        return pc.wecom_callback(xml, token="not-the-token")

    def group_path(self, group: str) -> str:
        return f"/robot/{group}"


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, WeCom):
        yield running


async def test_url_verification(run: flow.Running) -> None:
    echo = PrpCrypto(pc.crypto_key()).encrypt("echo-" + uuid.uuid4().hex, pc.WECOM_CORP).decode()
    ts, nonce = str(int(time.time())), "n-1"
    query = {
        "msg_signature": _get_signature(pc.WECOM_TOKEN, ts, nonce, echo),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echo,
    }
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await client.get(run.platform.path, params=query)
        assert r.status_code == 200 and r.text.startswith("echo-")
        bad = await client.get(run.platform.path, params={**query, "nonce": "n-2"})
        assert bad.status_code == 401


class TestWeCom(flow.PlatformSuite):
    """Reply and updates in order, retries once, refusals, 10 KB and emoji, escalation."""

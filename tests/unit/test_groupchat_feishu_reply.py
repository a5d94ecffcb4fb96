"""Feishu's reply API client on an in-memory transport: token reuse, a stale token is
dropped and fetched again, a hostile message id never reaches a URL."""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from dispatcher.groupchat.bots import PlatformConfig
from dispatcher.groupchat.feishu_reply import FeishuReplies
from dispatcher.push.model import Delivered, PermanentFailure, RetryLater

CONFIG = PlatformConfig(
    kind="feishu",
    verification_token=SecretStr("v"),
    app_id="cli_1",
    app_secret=SecretStr("s"),
    api_base="https://feishu.test",
)


class FakeFeishu:
    def __init__(self, reply_codes: list[int]) -> None:
        self.reply_codes = reply_codes
        self.tokens_issued = 0
        self.replies: list[tuple[str, dict[str, object]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tenant_access_token/internal"):
            self.tokens_issued += 1
            body = {"code": 0, "tenant_access_token": f"t-{self.tokens_issued}", "expire": 7200}
            return httpx.Response(200, json=body)
        self.replies.append((request.headers["authorization"], json.loads(request.content)))
        return httpx.Response(200, json={"code": self.reply_codes.pop(0), "msg": ""})


async def test_token_is_reused_and_a_stale_one_fetched_again() -> None:
    fake = FakeFeishu([0, 99991663, 0])
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        feishu = FeishuReplies(client)
        assert isinstance(await feishu.reply(CONFIG, "om_1", "已收到", "k1"), Delivered)
        assert isinstance(await feishu.reply(CONFIG, "om_1", "更新", "k2"), RetryLater)
        assert isinstance(await feishu.reply(CONFIG, "om_1", "更新", "k2"), Delivered)
    assert fake.tokens_issued == 2
    assert [auth for auth, _ in fake.replies] == ["Bearer t-1", "Bearer t-1", "Bearer t-2"]
    assert fake.replies[2][1] == {
        "msg_type": "text",
        "content": json.dumps({"text": "更新"}, ensure_ascii=False),
        "uuid": "k2",
    }


async def test_a_message_id_that_would_change_the_url_is_refused() -> None:
    fake = FakeFeishu([])
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        result = await FeishuReplies(client).reply(CONFIG, "../../admin?x=1", "hi", "k")
    assert isinstance(result, PermanentFailure) and fake.tokens_issued == 0

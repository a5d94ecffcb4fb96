"""Feishu's reply API: answer the asking message in its chat, as the app itself.

POST {api_base}/open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret} → a
tenant token (cached until shortly before it expires), then POST
{api_base}/open-apis/im/v1/messages/{message_id}/reply with `uuid` (Feishu drops a repeat
of the same uuid within an hour, so our retries never post twice).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime

import httpx

from dispatcher.clock import utcnow
from dispatcher.groupchat.bots import PlatformConfig
from dispatcher.push.channels.base import classify_status, json_body
from dispatcher.push.channels.feishu import plain_text
from dispatcher.push.model import Delivered, DeliveryResult, PermanentFailure, RetryLater

_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # goes into a URL path
TOKEN_MARGIN_S = 300.0
_TOKEN_INVALID = {99991661, 99991663, 99991668}  # missing / invalid / expired token
_RATE_LIMITED = {99991400, 11232, 230020}


class FeishuReplies:
    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], datetime] = utcnow) -> None:
        self._client = client
        self._clock = clock  # the API's (ApiDeps.clock)
        self._tokens: dict[str, tuple[str, float]] = {}  # app id → (token, good until)

    @staticmethod
    def usable(config: PlatformConfig | None) -> bool:
        return bool(
            config is not None
            and config.kind == "feishu"
            and config.app_id
            and config.app_secret is not None
        )

    async def _token(self, config: PlatformConfig) -> str | DeliveryResult:
        assert config.app_id is not None and config.app_secret is not None
        cached = self._tokens.get(config.app_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        url = f"{config.api_base.rstrip('/')}/open-apis/auth/v3/tenant_access_token/internal"
        body = {"app_id": config.app_id, "app_secret": config.app_secret.get_secret_value()}
        try:
            response = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            return RetryLater(f"feishu token: {type(exc).__name__}")
        doc = json_body(response) or {}
        token = doc.get("tenant_access_token")
        if response.status_code != 200 or doc.get("code") != 0 or not isinstance(token, str):
            return self._token_failure(response, doc)
        ttl = float(doc.get("expire", 7200))
        self._tokens[config.app_id] = (token, time.monotonic() + max(60.0, ttl - TOKEN_MARGIN_S))
        return token

    def _token_failure(self, response: httpx.Response, doc: dict[str, object]) -> DeliveryResult:
        """Like the reply's answer: a busy or rate-limited token service is tried again
        (the message is not dropped for it); a refused app secret is final."""
        code = doc.get("code")
        if code in _RATE_LIMITED:
            return RetryLater(f"feishu token: code {code}", throttled=True)
        status = classify_status(response, self._clock())
        if isinstance(status, RetryLater):
            reason = f"feishu token: {status.reason}"
            return RetryLater(reason, retry_after=status.retry_after, throttled=status.throttled)
        return PermanentFailure(f"feishu token: code {code}")

    async def reply(
        self, config: PlatformConfig, message_id: str, text: str, key: str
    ) -> DeliveryResult:
        if not _MESSAGE_ID.match(message_id):
            return PermanentFailure("feishu: unusable message id")
        token = await self._token(config)
        if not isinstance(token, str):
            return token
        url = f"{config.api_base.rstrip('/')}/open-apis/im/v1/messages/{message_id}/reply"
        body = {
            "msg_type": "text",
            "content": json.dumps({"text": plain_text(text)}, ensure_ascii=False),
            "uuid": key[:50],
        }
        try:
            response = await self._client.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            return RetryLater(f"feishu reply: {type(exc).__name__}")
        doc = json_body(response) or {}
        code = doc.get("code")
        if code in _TOKEN_INVALID:
            assert config.app_id is not None
            self._tokens.pop(config.app_id, None)
            return RetryLater(f"feishu reply: token code {code}")
        if code in _RATE_LIMITED:
            return RetryLater(f"feishu reply: code {code}", throttled=True)
        status = classify_status(response, self._clock())
        if status is not None:
            return status
        return Delivered() if code == 0 else PermanentFailure(f"feishu reply: code {code}")

"""Feishu (飞书) custom bot: POST .../bot/v2/hook/TOKEN, signature in the JSON body."""

from __future__ import annotations

import html
import urllib.parse
from typing import Any

import httpx

from dispatcher.push.channels.base import HttpChannel, json_body, short
from dispatcher.push.model import Delivered, Delivery, DeliveryResult, PermanentFailure, RetryLater
from dispatcher.push.signing import feishu_sign
from dispatcher.push.text import truncate_utf8

TEXT_MAX_BYTES = 18000  # the request body is limited to 20 KB
RATE_LIMIT_CODES = frozenset({9499, 11232})


def plain_text(text: str) -> str:
    """Our text as Feishu shows it, never as its tags: a text message acts on tags
    (`<at user_id="all"></at>` mentions everyone), so every "<" of the text becomes its
    full-width look-alike; the sender's own @-tags are added after this."""
    return text.replace("<", "＜")


class FeishuChannel(HttpChannel):
    def payload(self, delivery: Delivery) -> dict[str, Any]:
        # Feishu @ needs an open_id; a mobile alone cannot mention anyone.
        ats = "".join(
            f'<at user_id="{html.escape(m.open_id)}"></at> ' for m in delivery.mentions if m.open_id
        )
        text = truncate_utf8(ats + plain_text(delivery.message.text), TEXT_MAX_BYTES)
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if self.endpoint.secret is not None:
            timestamp_s = int(self._wall_clock())
            payload["timestamp"] = str(timestamp_s)
            payload["sign"] = feishu_sign(self.endpoint.secret.get_secret_value(), timestamp_s)
        return payload

    def build_request(self, delivery: Delivery) -> httpx.Request:
        assert self.endpoint.token is not None
        base = str(self.endpoint.url)
        if not base.endswith("/"):
            base += "/"
        token = self.endpoint.token.get_secret_value()
        return self.post_json(base + urllib.parse.quote(token, safe=""), self.payload(delivery))

    def classify_body(self, response: httpx.Response) -> DeliveryResult:
        body = json_body(response)
        if body is None:
            return RetryLater("feishu: unreadable answer")
        # Current answers carry "code"; older ones "StatusCode".
        code = body.get("code", body.get("StatusCode"))
        if not isinstance(code, int):
            return RetryLater("feishu: unreadable answer")
        if code == 0:
            return Delivered(response.status_code)
        if code in RATE_LIMIT_CODES:
            return RetryLater(f"feishu code {code}", throttled=True)
        return PermanentFailure(f"feishu code {code}: {short(body.get('msg', ''))}")

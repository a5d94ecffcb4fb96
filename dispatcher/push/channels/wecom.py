"""WeCom (企业微信) group robot: POST .../cgi-bin/webhook/send?key=KEY."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.push.channels.base import HttpChannel, json_body, short
from dispatcher.push.model import Delivered, Delivery, DeliveryResult, PermanentFailure, RetryLater
from dispatcher.push.text import truncate_utf8

TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096
ERRCODE_RATE_LIMITED = 45009
ERRCODE_SYSTEM_BUSY = -1
RATE_LIMIT_WAIT = 60.0  # the robot's window is one minute


# Our messages are plain text. In markdown, names from ledgers and chats ("3号楼](http://x)",
# "<@all>", "<font ...>") would become links, mentions or styling: the characters WeCom's
# markdown acts on become their full-width look-alikes, which it shows as they are ("_" and
# "-" stay: WeCom has no emphasis with them, and link tokens are base64url).
_MARKDOWN_ACTIVE = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "`": "｀",
        "*": "＊",
        "#": "＃",
    }
)


def plain_markdown(text: str) -> str:
    return text.translate(_MARKDOWN_ACTIVE)


class WeComChannel(HttpChannel):
    def payload(self, delivery: Delivery) -> dict[str, Any]:
        mobiles = [m.mobile for m in delivery.mentions if m.mobile]
        # Markdown cannot use mention lists, so a message that must @ someone stays text.
        if self.endpoint.message_format == "markdown" and not mobiles:
            content = truncate_utf8(plain_markdown(delivery.message.text), MARKDOWN_MAX_BYTES)
            return {"msgtype": "markdown", "markdown": {"content": content}}
        text: dict[str, Any] = {"content": truncate_utf8(delivery.message.text, TEXT_MAX_BYTES)}
        if mobiles:
            text["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": text}

    def build_request(self, delivery: Delivery) -> httpx.Request:
        assert self.endpoint.token is not None
        url = httpx.URL(
            str(self.endpoint.url), params={"key": self.endpoint.token.get_secret_value()}
        )
        return self.post_json(url, self.payload(delivery))

    def classify_body(self, response: httpx.Response) -> DeliveryResult:
        body = json_body(response)
        if body is None or not isinstance(body.get("errcode"), int):
            return RetryLater("wecom: unreadable answer")
        code = body["errcode"]
        if code == 0:
            return Delivered(response.status_code)
        if code == ERRCODE_RATE_LIMITED:
            return RetryLater("wecom errcode 45009", retry_after=RATE_LIMIT_WAIT, throttled=True)
        if code == ERRCODE_SYSTEM_BUSY:
            return RetryLater("wecom errcode -1 (busy)")
        # 93000 bad key, 40008 bad msgtype, 45002 too long...: retrying will not help.
        return PermanentFailure(f"wecom errcode {code}: {short(body.get('errmsg', ''))}")

"""DingTalk (钉钉) custom robot: POST .../robot/send?access_token=T&timestamp=MS&sign=S."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx

from dispatcher.push.channels.base import HttpChannel, json_body, short
from dispatcher.push.model import Delivered, Delivery, DeliveryResult, PermanentFailure, RetryLater
from dispatcher.push.signing import dingtalk_sign
from dispatcher.push.text import truncate_utf8

TEXT_MAX_BYTES = 20000  # DingTalk documents no exact limit; keep messages far below it
ERRCODE_THROTTLED = 130101
ERRCODE_SYSTEM_BUSY = -1
THROTTLE_WAIT = 600.0  # over 20/minute the robot is blocked for 10 minutes


# A DingTalk userId as written after "@" in the text: anything else is not mentioned.
_USER_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class DingTalkChannel(HttpChannel):
    def payload(self, delivery: Delivery) -> dict[str, Any]:
        """@-mentions by DingTalk userId (`at.atUserIds`, with "@<userId>" in the text: DingTalk
        shows a mention only so). Never by mobile: `atMobiles` needs "@<mobile>" in the text,
        which the whole group reads (masked only for non-members), so a helper's phone never
        goes into a group post, the request's body included."""
        user_ids = list(
            dict.fromkeys(
                m.open_id for m in delivery.mentions if m.open_id and _USER_ID.fullmatch(m.open_id)
            )
        )
        ats = "".join(f"@{user_id} " for user_id in user_ids)
        return {
            "msgtype": "text",
            "text": {"content": truncate_utf8(ats + delivery.message.text, TEXT_MAX_BYTES)},
            "at": {"atUserIds": user_ids, "isAtAll": False},
        }

    def signed_url(self) -> str:
        assert self.endpoint.token is not None
        query = "access_token=" + urllib.parse.quote_plus(self.endpoint.token.get_secret_value())
        if self.endpoint.secret is not None:
            timestamp_ms = int(self._wall_clock() * 1000)
            sign = dingtalk_sign(self.endpoint.secret.get_secret_value(), timestamp_ms)
            query += f"&timestamp={timestamp_ms}&sign={sign}"  # sign is already URL-encoded
        return f"{self.endpoint.url}?{query}"

    def build_request(self, delivery: Delivery) -> httpx.Request:
        return self.post_json(self.signed_url(), self.payload(delivery))

    def classify_body(self, response: httpx.Response) -> DeliveryResult:
        body = json_body(response)
        if body is None or not isinstance(body.get("errcode"), int):
            return RetryLater("dingtalk: unreadable answer")
        code = body["errcode"]
        if code == 0:
            return Delivered(response.status_code)
        if code == ERRCODE_THROTTLED:
            return RetryLater("dingtalk errcode 130101", retry_after=THROTTLE_WAIT, throttled=True)
        if code == ERRCODE_SYSTEM_BUSY:
            return RetryLater("dingtalk errcode -1 (busy)")
        # 310000 sign/keyword/IP rejected, 300001 bad token...: configuration, not transient.
        return PermanentFailure(f"dingtalk errcode {code}: {short(body.get('errmsg', ''))}")

"""Feishu callbacks of an app without an Encrypt Key (allowed in dev mode only): the plain
JSON body Feishu posts, nothing signed, checked by Feishu's own SDK handler as configured
for such an app. None of this uses the project's adapter code."""

from __future__ import annotations

import copy
import json
from typing import Any

from lark_oapi.core.model import RawRequest
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler

from tests.support.platform_callbacks import FEISHU_TOKEN, Callback

DAY_S = 86_400


def created_at(doc: dict[str, Any], seconds: float) -> dict[str, Any]:
    """`doc` as Feishu would have made it at `seconds` (epoch): its header.create_time, ms."""
    aged = copy.deepcopy(doc)
    aged["header"]["create_time"] = str(int(seconds * 1000))
    return aged


def plain_callback(doc: dict[str, Any]) -> Callback:
    """The body Feishu posts for an app without an Encrypt Key: the event itself."""
    return Callback(body=json.dumps(doc, ensure_ascii=False).encode())


def lark_accepts_plain(cb: Callback) -> bool:
    """Feishu's own handler, configured as such an app (token, no key), takes the message:
    it is a genuine-looking Feishu event (the SDK checks no time either)."""
    seen: list[Any] = []
    handler = (
        EventDispatcherHandler.builder("", FEISHU_TOKEN)
        .register_p2_im_message_receive_v1(seen.append)
        .build()
    )
    raw = RawRequest()
    raw.uri = "/v1/platforms/feishu"
    raw.body = cb.body
    raw.headers = {}
    return handler.do(raw).status_code == 200 and len(seen) == 1

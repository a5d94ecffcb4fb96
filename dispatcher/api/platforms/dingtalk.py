"""DingTalk (钉钉) enterprise robot, HTTP mode: outgoing messages POSTed to us.

Headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=AppSecret,
msg=timestamp + "\\n" + AppSecret)); more than one hour off is refused. The signature
covers the timestamp only, not the body: an exact re-send is refused (the route claims
header pair + body once), but a captured header pair could carry another body within the
hour; TLS and the 1-hour window are what protect it, and the reply goes only to a
`sessionWebhook` under the configured prefixes. Body: `msgId`, `conversationId`,
`conversationType` ("2" = group), `senderStaffId`, `senderNick`, `text.content` (or, for
text with pictures, `msgtype` "richText" and the text items of `content.richText`, read
as dingtalk-stream's `ChatbotMessage.get_text_list` reads them), `sessionWebhook(ExpiredTime)`.

The `sessionWebhook` comes in the body, which the sign does not cover: it is kept (in
`api_group_threads`) and used only when it is printable ASCII of at most 2048 characters
under the configured `session_webhook_prefixes` (the sender checks the prefixes again
before each post). Any other is dropped here and the group's robot answers: stored, a NUL
or a lone surrogate made PostgreSQL refuse the thread (a 500, the message not dispatched),
and a URL elsewhere (SSRF) was kept for nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

from dispatcher.api.platforms.base import (
    CallbackRequest,
    Inbound,
    InboundMessage,
    ReplyHint,
    bad_signature,
    check_fresh,
    epoch_ms,
    ignored,
    json_document,
    malformed,
    parse_timestamp,
)
from dispatcher.groupchat.bots import PlatformConfig
from dispatcher.groupchat.sender import session_webhook_allowed

log = logging.getLogger(__name__)

TOLERANCE_S = 3600.0
MAX_SESSION_WEBHOOK = 2048  # DingTalk's are ~100 characters


def sign(app_secret: str, timestamp_ms: int | str) -> str:
    mac = hmac.new(app_secret.encode(), f"{timestamp_ms}\n{app_secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class DingTalkAdapter:
    name = "dingtalk"

    def parse(self, config: PlatformConfig, req: CallbackRequest, now: float) -> Inbound:
        assert config.app_secret is not None
        ts = parse_timestamp(req.headers.get("timestamp"), "timestamp header")
        given = req.headers.get("sign") or ""
        expected = sign(config.app_secret.get_secret_value(), req.headers["timestamp"])
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise bad_signature()
        check_fresh(ts / 1000, now, TOLERANCE_S, "timestamp")
        doc = json_document(req.body, "the body")
        if not isinstance(doc, dict):
            raise malformed("the body is not a JSON object")
        # The sign does not cover the body: two messages may share a millisecond (and so a
        # sign), so the exact delivery (header pair + body) is what may come only once.
        replay_key = f"dingtalk:{ts}:{given}:{hashlib.sha256(req.body).hexdigest()}"
        text = _chat_text(doc)
        if text is None or not doc.get("msgId"):
            return ignored(replay_key, "dingtalk", doc.get("msgtype"))
        hook = session_webhook(config, doc.get("sessionWebhook"))
        expires = epoch_ms(doc.get("sessionWebhookExpiredTime"), "sessionWebhookExpiredTime")
        return InboundMessage(
            group_id=str(doc.get("conversationId") or ""),
            message_id=str(doc["msgId"]),
            sender_id=str(doc.get("senderStaffId") or doc.get("senderId") or ""),
            sender_name=doc.get("senderNick") if isinstance(doc.get("senderNick"), str) else None,
            text=text.strip(),
            replay_key=replay_key,
            is_group=str(doc.get("conversationType", "2")) == "2",
            reply=ReplyHint(
                session_webhook=hook,
                expires_at_ms=expires,
            ),
        )


def session_webhook(config: PlatformConfig, hook: object) -> str | None:
    """The message's sessionWebhook when it may be kept and used, else None (the group's
    robot answers): printable ASCII (no NUL, surrogate, space or control character, which
    no URL DingTalk sends has), not too long, no backslash or "/../" that a URL parser could
    read as another path, and under the configured prefixes."""
    if not isinstance(hook, str) or not hook:
        return None
    if (
        len(hook) > MAX_SESSION_WEBHOOK
        or not (hook.isascii() and hook.isprintable())
        or " " in hook
        or "\\" in hook
        or "/../" in hook.split("?", 1)[0] + "/"
        or not session_webhook_allowed(hook, config.session_webhook_prefixes)
    ):
        log.warning("dingtalk: a sessionWebhook that is not a URL under the prefixes: dropped")
        return None
    return hook


def _chat_text(doc: dict[str, Any]) -> str | None:
    """The text of a `text` message, or the text items of a `richText` one (text with
    pictures) joined in order; None when there is none (an event, a picture alone)."""
    if doc.get("msgtype") == "text":
        content = _obj(doc, "text").get("content")
        return content if isinstance(content, str) else None
    if doc.get("msgtype") != "richText":
        return None
    items = _obj(doc, "content").get("richText")
    parts = [
        item["text"]
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("text"), str)
    ]
    return "\n".join(parts) if any(p.strip() for p in parts) else None


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}

"""Feishu / Lark event subscription (schema 2.0), `im.message.receive_v1`.

`url_verification` → answer the challenge (after the Verification Token matches). With an
Encrypt Key, bodies are `{"encrypt": …}` and `X-Lark-Signature` = hex SHA-256(timestamp +
nonce + encrypt key + raw body) is required. Feishu expects 200 within 3 s and retries
(15 s, 5 min, 1 h, 6 h) with the same event_id; the message id dedupes them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from dispatcher.api.platforms import crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Ignored,
    Inbound,
    InboundMessage,
    Refused,
    ReplyHint,
    bad_signature,
    check_fresh,
    malformed,
    parse_int,
    undecryptable,
)
from dispatcher.groupchat.bots import PlatformConfig

TOLERANCE_S = 300.0
_MENTION = re.compile(r"@_user_\d+\s*")


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _json(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise malformed(f"{what} is not JSON") from exc
    if not isinstance(doc, dict):
        raise malformed(f"{what} is not a JSON object")
    return doc


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object, or {} when it is missing or not an object."""
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


class FeishuAdapter:
    name = "feishu"

    def parse(self, config: PlatformConfig, req: CallbackRequest, now: float) -> Inbound:
        assert config.verification_token is not None
        key = config.encrypt_key.get_secret_value() if config.encrypt_key else ""
        # Signed deliveries are checked before anything is decrypted or parsed; only the
        # URL check may come unsigned (the token inside it is then what is checked).
        signed = bool(key) and "x-lark-signature" in req.headers
        replay_key = self._check_signature(key, req, now) if signed else None
        outer = _json(req.body, "the body")
        if "encrypt" in outer:
            if not key:
                raise undecryptable("encrypted event but no encrypt_key configured")
            try:
                doc = _json(crypto.feishu_decrypt(key, str(outer["encrypt"])), "the event")
            except crypto.CryptoError as exc:
                raise undecryptable(f"cannot decrypt: {exc}") from exc
        elif key:
            raise Refused(
                400, "not_encrypted", "this app has an Encrypt Key: events must be encrypted"
            )
        else:
            doc = outer
        header = _obj(doc, "header")
        token = doc.get("token") if doc.get("type") == "url_verification" else header.get("token")
        expected = config.verification_token.get_secret_value()
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Refused(401, "bad_token", "the Verification Token does not match")
        if doc.get("type") == "url_verification":
            challenge = json.dumps({"challenge": str(doc.get("challenge", ""))})
            return DirectAnswer(challenge.encode(), "application/json")
        if replay_key is None:
            replay_key = self._check_signature(key, req, now)
        if header.get("event_type") != "im.message.receive_v1":
            return Ignored(replay_key, f"feishu {header.get('event_type') or 'event'}")
        return self._message(doc, replay_key)

    @staticmethod
    def _check_signature(key: str, req: CallbackRequest, now: float) -> str:
        if not key:  # without an Encrypt Key Feishu signs nothing: the token is all there is
            return "feishu:token:" + hashlib.sha256(req.body).hexdigest()
        ts = req.headers.get("x-lark-request-timestamp")
        nonce = req.headers.get("x-lark-request-nonce", "")
        given = req.headers.get("x-lark-signature", "")
        seconds = parse_int(ts, "X-Lark-Request-Timestamp")
        assert ts is not None
        if not hmac.compare_digest(given.encode(), signature(ts, nonce, key, req.body).encode()):
            raise bad_signature()
        check_fresh(seconds, now, TOLERANCE_S, "X-Lark-Request-Timestamp")
        return "feishu:" + given

    @staticmethod
    def _message(doc: dict[str, Any], replay_key: str) -> Inbound:
        event = _obj(doc, "event")
        message = _obj(event, "message")
        ids = _obj(_obj(event, "sender"), "sender_id")
        if message.get("message_type") != "text" or not message.get("message_id"):
            return Ignored(replay_key, f"feishu {message.get('message_type') or 'message'}")
        content = _json(str(message.get("content") or "{}"), "message.content")
        text = content.get("text")
        if not isinstance(text, str):
            raise malformed("message.content has no text")
        return InboundMessage(
            group_id=str(message.get("chat_id") or ""),
            message_id=str(message["message_id"]),
            sender_id=str(ids.get("open_id") or ids.get("user_id") or ""),
            sender_name=None,
            text=_MENTION.sub("", text).strip(),
            replay_key=replay_key,
            is_group=message.get("chat_type", "group") == "group",
            reply=ReplyHint(reply_to=str(message["message_id"])),
        )

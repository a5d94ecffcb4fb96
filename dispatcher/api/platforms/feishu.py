"""Feishu / Lark event subscription (schema 2.0), `im.message.receive_v1`.

`url_verification` → answer the challenge (after the Verification Token matches). Without
an Encrypt Key (dev mode only: `groupchat.bots.unsigned_platform`) nothing is signed and the
token travels in every body, so an event is read only while its `header.create_time` is
within 5 minutes of our clock (401 `stale` otherwise, as a stale signature): a captured body
cannot be replayed later (a fresh forgery still can, hence the Encrypt Key outside dev
mode). With an Encrypt Key, bodies are `{"encrypt": …}` and `X-Lark-Signature` = hex
SHA-256(timestamp + nonce + encrypt key + raw body) is required, checked before decryption;
only the URL check may come unsigned (Feishu's docs exempt it), so an unsigned body is
decrypted first: the route rate limits those (`unverified`) and every way one fails gets one
answer (no padding oracle). Feishu expects 200 within 3 s and retries (15 s, 5 min, 1 h,
6 h) with the same event_id; the message id dedupes them. Chat text comes as `text`, or as
`post` (rich text, e.g. text with pictures): its title and text elements are the message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from dispatcher.api.platforms import crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Inbound,
    InboundMessage,
    Refused,
    ReplyHint,
    bad_signature,
    check_fresh,
    ignored,
    json_document,
    malformed,
    parse_timestamp,
    undecryptable,
)
from dispatcher.groupchat.bots import PlatformConfig

log = logging.getLogger(__name__)

TOLERANCE_S = 300.0
_MENTION = re.compile(r"@_user_\d+\s*")


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _json(data: bytes | str, what: str) -> dict[str, Any]:
    doc = json_document(data, what)
    if not isinstance(doc, dict):
        raise malformed(f"{what} is not a JSON object")
    return doc


def _unreadable() -> Refused:
    """Every way an encrypted body fails to read: one answer (no padding oracle)."""
    return undecryptable("the encrypted event cannot be read with this app's Encrypt Key")


def _encrypted(body: bytes) -> str:
    """The ciphertext of a `{"encrypt": …}` body (an app with an Encrypt Key)."""
    outer = _json(body, "the body")
    if "encrypt" not in outer:
        raise Refused(400, "not_encrypted", "this app has an Encrypt Key: events must be encrypted")
    return str(outer["encrypt"])


def _decrypted(key: str, ciphertext: str) -> dict[str, Any]:
    try:
        return _json(crypto.feishu_decrypt(key, ciphertext), "the event")
    except (crypto.CryptoError, Refused) as exc:
        # Why, for the operator only (a fixed phrase, nothing of the body): see `_url_check`.
        why = exc.message if isinstance(exc, Refused) else str(exc)
        log.info("feishu: encrypted body unreadable: %s", why)
        raise _unreadable() from None


def _token_matches(config: PlatformConfig, doc: dict[str, Any]) -> bool:
    assert config.verification_token is not None
    header = _obj(doc, "header")
    token = doc.get("token") if doc.get("type") == "url_verification" else header.get("token")
    expected = config.verification_token.get_secret_value()
    return isinstance(token, str) and hmac.compare_digest(token.encode(), expected.encode())


def _challenge(doc: dict[str, Any]) -> DirectAnswer:
    return DirectAnswer(
        json.dumps({"challenge": str(doc.get("challenge", ""))}).encode(), "application/json"
    )


def _token_key(body: bytes) -> str:
    """Without an Encrypt Key nothing is signed: the body itself keys the replay claim."""
    return "feishu:token:" + hashlib.sha256(body).hexdigest()


def _check_created(header: dict[str, Any], now: float) -> None:
    """An unsigned event's only proof of freshness: `header.create_time` (ms) within 5
    minutes. Signed events are not held to it: their signed request timestamp is fresh,
    and Feishu re-sends an event we did not take for up to 7 hours with its first
    create_time (an outage must not lose them)."""
    created = header.get("create_time")
    text = str(created) if isinstance(created, int) and not isinstance(created, bool) else created
    ms = parse_timestamp(text if isinstance(text, str) else None, "header.create_time")
    check_fresh(ms / 1000, now, TOLERANCE_S, "header.create_time")


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object, or {} when it is missing or not an object."""
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


class FeishuAdapter:
    name = "feishu"

    @staticmethod
    def unverified(config: PlatformConfig, req: CallbackRequest) -> bool:
        """True when `parse` must decrypt before the sender is proven: an unsigned body for
        an app with an Encrypt Key (only Feishu's URL check comes so). The route rate
        limits these before calling `parse`."""
        keyed = config.encrypt_key is not None and bool(config.encrypt_key.get_secret_value())
        return keyed and "x-lark-signature" not in req.headers

    def parse(self, config: PlatformConfig, req: CallbackRequest, now: float) -> Inbound:
        assert config.verification_token is not None
        key = config.encrypt_key.get_secret_value() if config.encrypt_key else ""
        if not key:  # Feishu signs nothing then: the token inside is all there is
            doc = _json(req.body, "the body")
            if "encrypt" in doc:
                raise undecryptable("encrypted event but no encrypt_key configured")
            return self._checked(config, doc, lambda: _token_key(req.body), unsigned_at=now)
        if self.unverified(config, req):
            return self._url_check(config, key, req.body)
        # Signed deliveries are checked before anything is decrypted or parsed.
        replay_key = self._check_signature(key, req, now)
        doc = _decrypted(key, _encrypted(req.body))
        return self._checked(config, doc, lambda: replay_key)

    def _checked(
        self,
        config: PlatformConfig,
        doc: dict[str, Any],
        replay_key: Callable[[], str],
        unsigned_at: float | None = None,
    ) -> Inbound:
        """A readable event: its token, then the URL check's answer or the message. An
        unsigned one (`unsigned_at`: our clock) only while it is fresh."""
        if not _token_matches(config, doc):
            raise Refused(401, "bad_token", "the Verification Token does not match")
        if doc.get("type") == "url_verification":
            return _challenge(doc)
        header = _obj(doc, "header")
        if unsigned_at is not None:
            _check_created(header, unsigned_at)
        if header.get("event_type") != "im.message.receive_v1":
            return ignored(replay_key(), "feishu", header.get("event_type"))
        return self._message(doc, replay_key())

    @staticmethod
    def _url_check(config: PlatformConfig, key: str, body: bytes) -> Inbound:
        """An unsigned body: Feishu's URL check, or refused. Anyone can send these, so every
        way it fails to be a URL check with our token is the same answer: telling bad
        padding from bad UTF-8 or JSON (or a wrong token) would be a padding oracle that
        decrypts captured events."""
        doc = _decrypted(key, _encrypted(body))
        if not _token_matches(config, doc):
            log.info("feishu: unsigned body refused: not our Verification Token")
            raise _unreadable()
        if doc.get("type") == "url_verification":
            return _challenge(doc)
        # Our token inside: Feishu's own event, re-sent without its signature.
        raise Refused(401, "missing_signature", "X-Lark-Signature is missing")

    @staticmethod
    def _check_signature(key: str, req: CallbackRequest, now: float) -> str:
        ts = req.headers.get("x-lark-request-timestamp")
        nonce = req.headers.get("x-lark-request-nonce", "")
        given = req.headers.get("x-lark-signature", "")
        seconds = parse_timestamp(ts, "X-Lark-Request-Timestamp")
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
        kind = message.get("message_type")
        text = _chat_text(message) if message.get("message_id") else None
        if text is None:
            return ignored(replay_key, "feishu", kind, "message")
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


def _chat_text(message: dict[str, Any]) -> str | None:
    """The text of a `text` or `post` message; None for other types and for a post
    without any text (a picture alone)."""
    kind = message.get("message_type")
    if kind not in ("text", "post"):
        return None
    content = _json(str(message.get("content") or "{}"), "message.content")
    if kind == "post":
        return _post_text(content)
    text = content.get("text")
    if not isinstance(text, str):
        raise malformed("message.content has no text")
    return text


def _post_text(content: dict[str, Any]) -> str | None:
    """A post's title and paragraphs, one line each. Received posts are bare
    (`{"title", "content"}`); sent ones are wrapped in a locale (`{"zh_cn": {…}}`), read
    as Feishu's SDK reads them: the first locale."""
    doc = (
        content
        if "content" in content
        else next((v for v in content.values() if isinstance(v, dict)), {})
    )
    paragraphs = doc.get("content")
    lines = [str(doc.get("title") or "")] + [
        "".join(_element_text(e) for e in para if isinstance(e, dict))
        for para in (paragraphs if isinstance(paragraphs, list) else [])
        if isinstance(para, list)
    ]
    text = "\n".join(line for line in lines if line.strip())
    return text or None


def _element_text(element: dict[str, Any]) -> str:
    tag = element.get("tag")
    if tag in ("text", "code_block", "md"):
        return str(element.get("text") or "")
    if tag == "a":
        return str(element.get("text") or element.get("href") or "")
    if tag == "at":  # a text message's `@_user_N` placeholder, removed as there
        who = str(element.get("user_id") or "")
        return who if who.startswith("@_") else "@" + str(element.get("user_name") or who)
    return ""  # pictures, media, emoji, rules: no text

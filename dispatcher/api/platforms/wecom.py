"""WeCom (企业微信) callbacks: a self-built app or a smart robot in a group.

URL check: GET ?msg_signature&timestamp&nonce&echostr → the decrypted echostr. Messages:
POST with the same query; body XML (`<Encrypt>`) or JSON (`{"encrypt": …}`, the newer
robot API). Signature = SHA1 of the sorted [token, timestamp, nonce, ciphertext]. The
decrypted message is XML (app / group robot) or JSON (smart robot). WeCom retries after
5 s, three times, with the same MsgId.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ET

from dispatcher.api.platforms import crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Ignored,
    Inbound,
    InboundMessage,
    bad_signature,
    check_fresh,
    json_document,
    malformed,
    parse_timestamp,
    undecryptable,
)
from dispatcher.groupchat.bots import PlatformConfig

TOLERANCE_S = 300.0
_MENTION = re.compile(r"^@\S+\s*")


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def safe_xml(text: str) -> ET.Element:
    """No DTDs at all: entity expansion (billion laughs) and external entities are refused."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise malformed("XML with a DTD or entities is refused")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise malformed("the XML does not parse") from exc


def _xml_text(root: ET.Element, *paths: str) -> str | None:
    for path in paths:
        node = root.find(path)
        if node is not None and node.text:
            return node.text
    return None


class WeComAdapter:
    name = "wecom"

    def _verified_plain(
        self, config: PlatformConfig, req: CallbackRequest, encrypted: str, now: float
    ) -> str:
        assert config.token is not None and config.encoding_aes_key is not None
        q = req.query
        ts = parse_timestamp(q.get("timestamp"), "timestamp")
        given = q.get("msg_signature") or ""
        expected = signature(
            config.token.get_secret_value(), q["timestamp"], q.get("nonce", ""), encrypted
        )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise bad_signature()
        check_fresh(ts, now, TOLERANCE_S, "timestamp")
        try:
            return crypto.wecom_decrypt(
                config.encoding_aes_key.get_secret_value(), encrypted, config.receive_id
            )
        except crypto.CryptoError as exc:
            raise undecryptable(f"cannot decrypt: {exc}") from exc

    def parse(self, config: PlatformConfig, req: CallbackRequest, now: float) -> Inbound:
        if req.method == "GET":
            echo = req.query.get("echostr")
            if not echo:
                raise malformed("URL verification needs echostr")
            plain = self._verified_plain(config, req, echo, now)
            return DirectAnswer(plain.encode(), "text/plain")
        encrypted = self._encrypted_field(req.body)
        plain = self._verified_plain(config, req, encrypted, now)
        replay_key = "wecom:" + req.query.get("msg_signature", "")
        stripped = plain.lstrip()
        if stripped.startswith("{"):
            return self._from_json(stripped, replay_key)
        return self._from_xml(stripped, replay_key)

    @staticmethod
    def _encrypted_field(body: bytes) -> str:
        text = body.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            doc = json_document(text, "the JSON body")
            value = doc.get("encrypt") if isinstance(doc, dict) else None
        else:
            value = _xml_text(safe_xml(text), "Encrypt")
        if not isinstance(value, str) or not value:
            raise malformed("no Encrypt field in the callback")
        return value

    @staticmethod
    def _from_xml(plain: str, replay_key: str) -> Inbound:
        root = safe_xml(plain)
        kind = (_xml_text(root, "MsgType") or "").lower()
        msg_id = _xml_text(root, "MsgId")
        if kind != "text" or not msg_id:
            return Ignored(replay_key, f"wecom {kind or 'event'}")
        sender = _xml_text(root, "From/UserId", "FromUserName") or ""
        chat = _xml_text(root, "ChatId") or ""
        text = _xml_text(root, "Text/Content", "Content") or ""
        return InboundMessage(
            group_id=chat or sender,
            message_id=msg_id,
            sender_id=sender,
            sender_name=_xml_text(root, "From/Name"),
            text=_MENTION.sub("", text.strip()),
            replay_key=replay_key,
            is_group=bool(chat),
        )

    @staticmethod
    def _from_json(plain: str, replay_key: str) -> Inbound:
        doc = json_document(plain, "the decrypted JSON")
        if not isinstance(doc, dict):
            raise malformed("the decrypted JSON is not an object")
        if doc.get("msgtype") != "text" or not doc.get("msgid"):
            return Ignored(replay_key, f"wecom {doc.get('msgtype') or 'event'}")
        sender = str((doc.get("from") or {}).get("userid") or "")
        chat = str(doc.get("chatid") or "")
        text = str((doc.get("text") or {}).get("content") or "")
        return InboundMessage(
            group_id=chat or sender,
            message_id=str(doc["msgid"]),
            sender_id=sender,
            sender_name=None,
            text=_MENTION.sub("", text.strip()),
            replay_key=replay_key,
            is_group=doc.get("chattype", "group") == "group",
        )

"""WeCom (企业微信) callbacks: a self-built app or a smart robot in a group.

URL check: GET ?msg_signature&timestamp&nonce&echostr → the decrypted echostr. Messages:
POST with the same query; body XML (`<Encrypt>`) or JSON (`{"encrypt": …}`, the newer
robot API). Signature = SHA1 of the sorted [token, timestamp, nonce, ciphertext]. The
decrypted message is XML (app / group robot) or JSON (smart robot). WeCom retries after
5 s, three times, with the same MsgId. Chat text comes as `text`, or as `mixed` (text and
pictures: the text items, in order, are the message). `ChatType` tells a group from a
one-to-one chat; a one-to-one chat carries a `ChatId` too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from typing import Any

from dispatcher.api.platforms import crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Inbound,
    InboundMessage,
    bad_signature,
    check_fresh,
    ignored,
    json_document,
    malformed,
    parse_timestamp,
    undecryptable,
)
from dispatcher.groupchat.bots import PlatformConfig

TOLERANCE_S = 300.0
# The robot's own @mention leads a group message ("@RobotA hello robot", WeCom's sample),
# its name ended by whitespace (U+2005 in WeCom's clients). Only a name-length run ended so
# is taken for it: "@互助机器人救命！3号楼着火了" has no end to a name and is read whole.
_MENTION = re.compile(r"^@[^\s@]{1,24}\s+")


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
        text = _xml_chat_text(root, kind)
        if text is None or not msg_id:
            return ignored(replay_key, "wecom", kind)
        sender = _xml_text(root, "From/UserId", "FromUserName") or ""
        chat = _xml_text(root, "ChatId") or ""
        chat_type = (_xml_text(root, "ChatType") or "").strip()
        return InboundMessage(
            group_id=chat or sender,
            message_id=msg_id,
            sender_id=sender,
            sender_name=_xml_text(root, "From/Name"),
            text=without_mention(text),
            replay_key=replay_key,
            # A one-to-one chat with the robot has a ChatId too: only ChatType tells them
            # apart. An app's callback has neither (a member writing to the app).
            is_group=chat_type == "group" if chat_type else bool(chat),
        )

    @staticmethod
    def _from_json(plain: str, replay_key: str) -> Inbound:
        doc = json_document(plain, "the decrypted JSON")
        if not isinstance(doc, dict):
            raise malformed("the decrypted JSON is not an object")
        text = _json_chat_text(doc)
        if text is None or not doc.get("msgid"):
            return ignored(replay_key, "wecom", doc.get("msgtype"))
        sender = str(_obj(doc, "from").get("userid") or "")
        chat = str(doc.get("chatid") or "")
        return InboundMessage(
            group_id=chat or sender,
            message_id=str(doc["msgid"]),
            sender_id=sender,
            sender_name=None,
            text=without_mention(text),
            replay_key=replay_key,
            is_group=doc.get("chattype", "group") == "group",
        )


def without_mention(text: str) -> str:
    """The text after a leading @mention; the whole text when nothing would be left (a
    message is never swallowed by the strip)."""
    whole = text.strip()
    return _MENTION.sub("", whole, count=1).strip() or whole


def _joined(parts: list[str]) -> str | None:
    """The text parts of a text-and-pictures message, in order; None when there are none
    (pictures only: nothing to read)."""
    text = "\n".join(p for p in parts if p.strip())
    return text or None


def _xml_chat_text(root: ET.Element, kind: str) -> str | None:
    """The chat text of a `text` or `mixed` message; None for anything else."""
    if kind == "text":
        return _xml_text(root, "Text/Content", "Content") or ""
    if kind != "mixed":
        return None
    items = root.findall("MixedMessage/MsgItem")
    return _joined(
        [
            _xml_text(item, "Text/Content") or ""
            for item in items
            if (_xml_text(item, "MsgType") or "").lower() == "text"
        ]
    )


def _json_chat_text(doc: dict[str, Any]) -> str | None:
    """The smart robot's JSON twin of `_xml_chat_text`: `text.content`, or the text
    items of `mixed.msg_item`."""
    kind = doc.get("msgtype")
    if kind == "text":
        return str(_obj(doc, "text").get("content") or "")
    if kind != "mixed":
        return None
    items = _obj(doc, "mixed").get("msg_item")
    return _joined(
        [
            str(_obj(item, "text").get("content") or "")
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("msgtype") == "text"
        ]
    )


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}

"""Platform callbacks built by the platforms' own code, for unit and integration tests.

WeCom: `wechatpy` encrypts and signs. DingTalk: `dingtalk-stream`'s message model builds
the body and the signing is DingTalk's published Python sample. Feishu: the body is
encrypted with pycryptodome (Feishu's SDK only decrypts; its own handler is used to check
the request, see `lark_accepts`). None of this uses the project's own adapter code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import xmltodict
from Crypto.Cipher import AES
from dingtalk_stream import ChatbotMessage
from lark_oapi.core.model import RawRequest
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from wechatpy.enterprise.crypto import WeChatCrypto

WECOM_TOKEN = "wecom-test-token"
WECOM_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"  # 43 characters: 32 bytes
WECOM_CORP = "ww0123456789abcdef"
DINGTALK_SECRET = "dingtalk-app-secret-for-tests-0123456789"
FEISHU_ENCRYPT_KEY = "feishu-encrypt-key-for-tests"
FEISHU_TOKEN = "feishu-verification-token"


@dataclass(frozen=True)
class Callback:
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def tampered(self) -> Callback:
        """One character of the ciphertext (the middle of the body) changed, signature kept."""
        i = len(self.body) // 2
        changed = b"B" if self.body[i : i + 1] == b"A" else b"A"
        return replace(self, body=self.body[:i] + changed + self.body[i + 1 :])


# ---------------------------------------------------------------- WeCom


def wecom_group_xml(text: str, msg_id: str, sender: str, chat: str) -> str:
    return (
        f"<xml><ChatId><![CDATA[{chat}]]></ChatId><From><UserId><![CDATA[{sender}]]></UserId>"
        f"<Name><![CDATA[住户]]></Name></From><MsgType><![CDATA[text]]></MsgType>"
        f"<Text><Content><![CDATA[@互助机器人 {text}]]></Content></Text>"
        f"<MsgId><![CDATA[{msg_id}]]></MsgId><ChatType>group</ChatType></xml>"
    )


def wecom_callback(
    plain: str, *, ts: int | None = None, corp: str = WECOM_CORP, token: str = WECOM_TOKEN
) -> Callback:
    ts = int(time.time()) if ts is None else ts
    nonce = uuid.uuid4().hex[:10]
    envelope = xmltodict.parse(
        WeChatCrypto(token, WECOM_AES_KEY, corp).encrypt_message(plain, nonce, str(ts))
    )["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName>"
        f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID>1</AgentID></xml>"
    )
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": str(ts), "nonce": nonce}
    return Callback(query=query, body=body.encode())


# ---------------------------------------------------------------- DingTalk


def dingtalk_published_sign(timestamp: str, app_secret: str) -> str:
    """Transcribed from DingTalk's robot docs (企业内部机器人 HTTP 回调 验签示例, Python)."""
    app_secret_enc = app_secret.encode("utf-8")
    string_to_sign = "{}\n{}".format(timestamp, app_secret)  # noqa: UP032 - as published
    string_to_sign_enc = string_to_sign.encode("utf-8")
    hmac_code = hmac.new(app_secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    return base64.b64encode(hmac_code).decode("utf-8")


def dingtalk_body(
    text: str,
    msg_id: str,
    *,
    sender: str = "staff-001",
    conversation: str = "cidGroup123+/=",
    session_webhook: str = "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
) -> bytes:
    now_ms = int(time.time() * 1000)
    m = ChatbotMessage.from_dict(
        {
            "msgtype": "text",
            "text": {"content": text},
            "msgId": msg_id,
            "conversationId": conversation,
            "conversationType": "2",
            "senderStaffId": sender,
            "senderNick": "住户",
            "sessionWebhook": session_webhook,
            "sessionWebhookExpiredTime": now_ms + 3_600_000,
            "createAt": now_ms,
        }
    )
    return json.dumps(m.to_dict(), ensure_ascii=False).encode()


def dingtalk_callback(
    body: bytes, *, ts_ms: int | None = None, secret: str = DINGTALK_SECRET
) -> Callback:
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    return Callback(
        headers={"timestamp": ts, "sign": dingtalk_published_sign(ts, secret)}, body=body
    )


# ---------------------------------------------------------------- Feishu


def pycryptodome_encrypt(key: str, plain: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    iv = os.urandom(16)
    data = plain.encode()
    pad = 16 - len(data) % 16
    cipher = AES.new(digest, AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(data + bytes([pad]) * pad)).decode()


def feishu_event(
    text: str,
    message_id: str,
    *,
    sender: str = "ou_sender1",
    chat: str = "oc_group1",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or f"ev-{message_id}",
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": FEISHU_TOKEN,
            "app_id": "cli_test",
            "tenant_key": "tk",
        },
        "event": {
            "sender": {"sender_id": {"open_id": sender}, "sender_type": "user"},
            "message": {
                "message_id": message_id,
                "chat_id": chat,
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
            },
        },
    }


def feishu_callback(
    doc: dict[str, Any], *, ts: int | None = None, key: str = FEISHU_ENCRYPT_KEY
) -> Callback:
    encrypted = pycryptodome_encrypt(key, json.dumps(doc, ensure_ascii=False))
    body = json.dumps({"encrypt": encrypted}).encode()
    t, nonce = str(int(time.time()) if ts is None else ts), uuid.uuid4().hex[:12]
    sig = hashlib.sha256((t + nonce + key).encode() + body).hexdigest()
    headers = {
        "x-lark-request-timestamp": t,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": sig,
    }
    return Callback(headers=headers, body=body)


def lark_accepts(cb: Callback) -> bool:
    """Feishu's own event handler, given the same bytes and headers, takes the message."""
    seen: list[Any] = []
    handler = (
        EventDispatcherHandler.builder(FEISHU_ENCRYPT_KEY, FEISHU_TOKEN)
        .register_p2_im_message_receive_v1(seen.append)
        .build()
    )
    raw = RawRequest()
    raw.uri = "/v1/platforms/feishu"
    raw.body = cb.body
    raw.headers = {
        "X-Lark-Request-Timestamp": cb.headers["x-lark-request-timestamp"],
        "X-Lark-Request-Nonce": cb.headers["x-lark-request-nonce"],
        "X-Lark-Signature": cb.headers["x-lark-signature"],
    }
    return handler.do(raw).status_code == 200 and len(seen) == 1


def crypto_key() -> bytes:
    """WeCom's AES key as WeCom derives it: base64(EncodingAESKey + "=")."""
    return base64.b64decode(WECOM_AES_KEY + "=")

"""The platform adapters against the platforms' own code and published samples.

WeCom: `wechatpy` encrypts and signs; Feishu: `lark-oapi`'s own event handler must accept
the very request our adapter accepts (its SDK only decrypts, so the test encrypts with
pycryptodome, independently of our `cryptography`-based code); DingTalk: the signing
sample from DingTalk's robot docs and `dingtalk-stream`'s message model. No I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import urllib.parse
from typing import Any

import pytest
import xmltodict
from Crypto.Cipher import AES
from dingtalk_stream import ChatbotMessage
from lark_oapi.core.model import RawRequest
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from pydantic import SecretStr
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from dispatcher.api.bots import PlatformConfig
from dispatcher.api.platforms import ADAPTERS, crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Ignored,
    InboundMessage,
    Refused,
)
from dispatcher.groupchat.sender import session_webhook_allowed
from dispatcher.groupchat.texts import is_cancel_reply

# ---------------------------------------------------------------- WeCom

TOKEN = "wecom-test-token"
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 characters
CORP = "ww0123456789abcdef"
WECOM = PlatformConfig(
    kind="wecom", token=SecretStr(TOKEN), encoding_aes_key=SecretStr(AES_KEY), receive_id=CORP
)

GROUP_XML = (
    "<xml><WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/x]]></WebhookUrl>"
    "<ChatId><![CDATA[wrkSFfCgAAxxx]]></ChatId><From><UserId><![CDATA[zhangsan]]></UserId>"
    "<Name><![CDATA[张三]]></Name></From><MsgType><![CDATA[text]]></MsgType>"
    "<Text><Content><![CDATA[@互助机器人 3号楼有老人摔倒了，快来人]]></Content></Text>"
    "<MsgId>CAIQ16HMjQYY</MsgId><ChatType>group</ChatType></xml>"
)


def wecom_post(xml: str, *, ts: int | None = None, corp: str = CORP) -> CallbackRequest:
    ts = int(time.time()) if ts is None else ts
    nonce = "1372623149"
    envelope = WeChatCrypto(TOKEN, AES_KEY, corp).encrypt_message(xml, nonce, str(ts))
    doc = xmltodict.parse(envelope)["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName>"
        f"<Encrypt><![CDATA[{doc['Encrypt']}]]></Encrypt><AgentID>1</AgentID></xml>"
    )
    query = {"msg_signature": doc["MsgSignature"], "timestamp": str(ts), "nonce": nonce}
    return CallbackRequest("POST", query, {}, body.encode())


def parse(name: str, config: PlatformConfig, req: CallbackRequest, now: float | None = None):  # type: ignore[no-untyped-def]
    return ADAPTERS[name].parse(config, req, time.time() if now is None else now)


def refused(name: str, config: PlatformConfig, req: CallbackRequest, **kw: Any) -> Refused:
    with pytest.raises(Refused) as info:
        parse(name, config, req, **kw)
    return info.value


def test_wecom_published_url_verification_sample() -> None:
    """The sample of WeCom's callback docs (Token QDG6eK, CorpID wx5823bf96d3bd56c7)."""
    config = PlatformConfig(
        kind="wecom",
        token=SecretStr("QDG6eK"),
        encoding_aes_key=SecretStr("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"),
        receive_id="wx5823bf96d3bd56c7",
    )
    echostr = urllib.parse.unquote(
        "P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D"
    )
    query = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": echostr,
    }
    answer = parse("wecom", config, CallbackRequest("GET", query, {}, b""), now=1409659589)
    assert answer == DirectAnswer(b"1616140317555161061", "text/plain")
    tampered = {**query, "nonce": "263014781"}
    bad = refused("wecom", config, CallbackRequest("GET", tampered, {}, b""), now=1409659589)
    assert bad.status == 401 and bad.reason == "bad_signature"


def test_wecom_url_verification_built_by_wechatpy() -> None:
    echo = PrpCrypto(crypto.wecom_key(AES_KEY)).encrypt("echo-4242", CORP).decode()
    ts = str(int(time.time()))
    q = {"msg_signature": _get_signature(TOKEN, ts, "n1", echo), "timestamp": ts, "nonce": "n1"}
    answer = parse("wecom", WECOM, CallbackRequest("GET", {**q, "echostr": echo}, {}, b""))
    assert isinstance(answer, DirectAnswer) and answer.body == b"echo-4242"


def test_wecom_group_message_encrypted_by_wechatpy() -> None:
    msg = parse("wecom", WECOM, wecom_post(GROUP_XML))
    assert isinstance(msg, InboundMessage)
    assert (msg.group_id, msg.message_id, msg.sender_id) == (
        "wrkSFfCgAAxxx",
        "CAIQ16HMjQYY",
        "zhangsan",
    )
    assert msg.text == "3号楼有老人摔倒了，快来人" and msg.sender_name == "张三"


def test_wecom_smart_robot_json_message() -> None:
    inner = json.dumps(
        {
            "msgid": "m-json-1",
            "aibotid": "AIBOT",
            "chatid": "wrkChat2",
            "chattype": "group",
            "from": {"userid": "lisi"},
            "msgtype": "text",
            "text": {"content": "@机器人 5号楼水管爆了"},
        },
        ensure_ascii=False,
    )
    req = wecom_post(inner, corp="")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", req.body.decode())
    assert encrypted is not None
    json_req = CallbackRequest(
        "POST", req.query, {}, json.dumps({"encrypt": encrypted[1]}).encode()
    )
    robot = WECOM.model_copy(update={"receive_id": ""})
    msg = parse("wecom", robot, json_req)
    assert isinstance(msg, InboundMessage)
    assert (msg.group_id, msg.message_id, msg.text) == ("wrkChat2", "m-json-1", "5号楼水管爆了")


def test_wecom_refuses_tampered_stale_foreign_and_dtd() -> None:
    good = wecom_post(GROUP_XML)
    body = good.body.decode()
    flipped = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[A", 1)
    r = refused("wecom", WECOM, CallbackRequest("POST", good.query, {}, flipped.encode()))
    assert (r.status, r.reason) == (401, "bad_signature")
    forged = {**good.query, "msg_signature": "0" * 40}
    assert (
        refused("wecom", WECOM, CallbackRequest("POST", forged, {}, good.body)).reason
        == "bad_signature"
    )
    stale = wecom_post(GROUP_XML, ts=int(time.time()) - 3600)
    assert refused("wecom", WECOM, stale).reason == "stale"
    foreign = wecom_post(GROUP_XML, corp="ww-another-corp")  # right key, another receive id
    assert refused("wecom", WECOM, foreign).reason == "undecryptable"
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>&a;</MsgType></xml>'
    assert refused("wecom", WECOM, wecom_post(bomb)).reason == "malformed"


def test_wecom_our_encryption_is_read_by_wechatpy() -> None:
    encrypted = crypto.wecom_encrypt(AES_KEY, "<xml>你好</xml>", CORP)
    ts, nonce = "1700000000", "abc"
    sig = _get_signature(TOKEN, ts, nonce, encrypted)
    plain = WeChatCrypto(TOKEN, AES_KEY, CORP).decrypt_message(
        {"Encrypt": encrypted}, sig, ts, nonce
    )
    assert plain == "<xml>你好</xml>"


def test_wecom_event_without_text_is_ignored() -> None:
    event = "<xml><MsgType>event</MsgType><Event>enter_agent</Event></xml>"
    assert isinstance(parse("wecom", WECOM, wecom_post(event)), Ignored)


# ---------------------------------------------------------------- DingTalk

APP_SECRET = "dingtalk-app-secret-for-tests-0123456789"
DINGTALK = PlatformConfig(kind="dingtalk", app_secret=SecretStr(APP_SECRET))


def dingtalk_published_sign(timestamp: str, app_secret: str) -> str:
    """Transcribed from DingTalk's robot docs (企业内部机器人 HTTP 回调 验签示例, Python)."""
    app_secret_enc = app_secret.encode("utf-8")
    string_to_sign = "{}\n{}".format(timestamp, app_secret)  # noqa: UP032 - as published
    string_to_sign_enc = string_to_sign.encode("utf-8")
    hmac_code = hmac.new(app_secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    return base64.b64encode(hmac_code).decode("utf-8")


def dingtalk_body(text: str, msg_id: str = "msgABC==") -> bytes:
    m = ChatbotMessage.from_dict(
        {
            "msgtype": "text",
            "text": {"content": text},
            "msgId": msg_id,
            "conversationId": "cidGroup123+/=",
            "conversationType": "2",
            "senderStaffId": "staff-001",
            "senderNick": "王女士",
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
            "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000,
            "createAt": int(time.time() * 1000),
        }
    )
    return json.dumps(m.to_dict(), ensure_ascii=False).encode()


def dingtalk_req(
    body: bytes, ts_ms: int | None = None, secret: str = APP_SECRET
) -> CallbackRequest:
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    headers = {"timestamp": ts, "sign": dingtalk_published_sign(ts, secret)}
    return CallbackRequest("POST", {}, headers, body)


def test_dingtalk_message_signed_as_published() -> None:
    msg = parse("dingtalk", DINGTALK, dingtalk_req(dingtalk_body(" 3号楼有人晕倒了 ")))
    assert isinstance(msg, InboundMessage)
    assert (msg.group_id, msg.message_id, msg.sender_id) == (
        "cidGroup123+/=",
        "msgABC==",
        "staff-001",
    )
    assert msg.text == "3号楼有人晕倒了" and msg.reply.session_webhook is not None


def test_dingtalk_refuses_wrong_secret_stale_and_missing() -> None:
    body = dingtalk_body("hi")
    assert (
        refused("dingtalk", DINGTALK, dingtalk_req(body, secret="another-secret-xx")).reason
        == "bad_signature"
    )
    old = int((time.time() - 3700) * 1000)
    assert refused("dingtalk", DINGTALK, dingtalk_req(body, ts_ms=old)).reason == "stale"
    within = int((time.time() - 3500) * 1000)  # the published window is one hour
    assert isinstance(parse("dingtalk", DINGTALK, dingtalk_req(body, ts_ms=within)), InboundMessage)
    r = refused("dingtalk", DINGTALK, CallbackRequest("POST", {}, {}, body))
    assert (r.status, r.reason) == (401, "missing_signature")


# ---------------------------------------------------------------- Feishu

ENCRYPT_KEY = "feishu-encrypt-key-for-tests"
VTOKEN = "feishu-verification-token"
FEISHU = PlatformConfig(
    kind="feishu", verification_token=SecretStr(VTOKEN), encrypt_key=SecretStr(ENCRYPT_KEY)
)


def pycryptodome_encrypt(key: str, plain: str) -> str:
    """Independent of our code: pycryptodome, as Feishu's own SDK uses for decrypting."""
    digest = hashlib.sha256(key.encode()).digest()
    iv = os.urandom(16)
    data = plain.encode()
    pad = 16 - len(data) % 16
    return base64.b64encode(
        iv + AES.new(digest, AES.MODE_CBC, iv).encrypt(data + bytes([pad]) * pad)
    ).decode()


def feishu_event(text: str, event_id: str = "ev-1", message_id: str = "om_1") -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": VTOKEN,
            "app_id": "cli_test",
            "tenant_key": "tk",
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": "ou_sender1", "user_id": "u1"},
                "sender_type": "user",
            },
            "message": {
                "message_id": message_id,
                "chat_id": "oc_group1",
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
            },
        },
    }


def feishu_req(
    doc: dict[str, Any], ts: int | None = None, key: str = ENCRYPT_KEY
) -> CallbackRequest:
    body = json.dumps(
        {"encrypt": pycryptodome_encrypt(key, json.dumps(doc, ensure_ascii=False))}
    ).encode()
    t, nonce = str(int(time.time()) if ts is None else ts), "nonce-1"
    sig = hashlib.sha256((t + nonce + key).encode() + body).hexdigest()
    headers = {
        "x-lark-request-timestamp": t,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": sig,
    }
    return CallbackRequest("POST", {}, headers, body)


def lark_accepts(req: CallbackRequest) -> bool:
    """Feishu's own event handler on the same bytes and headers."""
    seen: list[Any] = []
    handler = (
        EventDispatcherHandler.builder(ENCRYPT_KEY, VTOKEN)
        .register_p2_im_message_receive_v1(seen.append)
        .build()
    )
    raw = RawRequest()
    raw.uri = "/v1/platforms/feishu/x"
    raw.body = req.body
    raw.headers = {
        "X-Lark-Request-Timestamp": req.headers["x-lark-request-timestamp"],
        "X-Lark-Request-Nonce": req.headers["x-lark-request-nonce"],
        "X-Lark-Signature": req.headers["x-lark-signature"],
    }
    return handler.do(raw).status_code == 200 and len(seen) == 1


def test_feishu_published_decrypt_sample() -> None:
    """Feishu's docs: encrypt key "test key" → "hello world"."""
    assert (
        crypto.feishu_decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
        == "hello world"
    )


def test_feishu_message_accepted_by_lark_sdk_and_by_us() -> None:
    req = feishu_req(feishu_event("我家老人摔倒了，2号楼"))
    assert lark_accepts(req)
    msg = parse("feishu", FEISHU, req)
    assert isinstance(msg, InboundMessage)
    assert (msg.group_id, msg.message_id, msg.sender_id) == ("oc_group1", "om_1", "ou_sender1")
    assert msg.text == "我家老人摔倒了，2号楼"


def test_feishu_tampered_is_refused_by_lark_sdk_and_by_us() -> None:
    req = feishu_req(feishu_event("hi"))
    tampered = CallbackRequest(
        req.method, req.query, {**req.headers, "x-lark-request-nonce": "other"}, req.body
    )
    assert not lark_accepts(tampered)
    assert refused("feishu", FEISHU, tampered).reason == "bad_signature"
    wrong_key = feishu_req(feishu_event("hi"), key="another key")
    assert refused("feishu", FEISHU, wrong_key).reason == "undecryptable"
    stale = feishu_req(feishu_event("hi"), ts=int(time.time()) - 3600)
    assert refused("feishu", FEISHU, stale).reason == "stale"
    plain = CallbackRequest("POST", {}, req.headers, json.dumps(feishu_event("hi")).encode())
    assert refused("feishu", FEISHU, plain).reason == "not_encrypted"
    bad_token = feishu_event("hi")
    bad_token["header"]["token"] = "guess"
    assert refused("feishu", FEISHU, feishu_req(bad_token)).reason == "bad_token"


def test_feishu_url_verification_challenge() -> None:
    doc = {"challenge": "ch-123", "token": VTOKEN, "type": "url_verification"}
    req = feishu_req(doc)
    answer = parse("feishu", FEISHU, req)
    assert isinstance(answer, DirectAnswer) and json.loads(answer.body) == {"challenge": "ch-123"}
    lark = EventDispatcherHandler.builder(ENCRYPT_KEY, VTOKEN).build()
    raw = RawRequest()
    raw.uri, raw.body, raw.headers = "/", req.body, {}
    assert json.loads(lark.do(raw).content) == json.loads(answer.body)
    doc["token"] = "guess"
    assert refused("feishu", FEISHU, feishu_req(doc)).reason == "bad_token"


# ---------------------------------------------------------------- shared


def test_session_webhook_prefix_is_matched_on_a_url_boundary() -> None:
    prefixes = ("https://oapi.dingtalk.com/robot/sendBySession",)
    assert session_webhook_allowed(
        "https://oapi.dingtalk.com/robot/sendBySession?session=x", prefixes
    )
    assert not session_webhook_allowed(
        "https://oapi.dingtalk.com/robot/sendBySession.evil.cn/?s", prefixes
    )
    assert not session_webhook_allowed("http://169.254.169.254/latest/meta-data", prefixes)


def test_cancel_replies() -> None:
    assert is_cancel_reply("不用了，已经解决")
    assert is_cancel_reply("已解决，谢谢大家")
    assert not is_cancel_reply("3号楼有老人摔倒了，快来人")
    assert not is_cancel_reply("不用了" + "后面是一段很长的求助内容" * 5)

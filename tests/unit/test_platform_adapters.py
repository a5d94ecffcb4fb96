"""The platform adapters against the platforms' own code and published samples.

WeCom: `wechatpy` encrypts and signs; Feishu: `lark-oapi`'s own event handler must accept
the very request our adapter accepts (its SDK only decrypts, so the callbacks are encrypted
with pycryptodome, independently of our `cryptography`-based code); DingTalk: the signing
sample from DingTalk's robot docs and `dingtalk-stream`'s message model (builders in
tests/support/platform_callbacks.py). No I/O.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from typing import Any

import pytest
from lark_oapi.core.model import RawRequest
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from pydantic import SecretStr
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from dispatcher.api.platforms import ADAPTERS, crypto
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Ignored,
    InboundMessage,
    Refused,
)
from dispatcher.groupchat.bots import PlatformConfig
from dispatcher.groupchat.sender import session_webhook_allowed
from dispatcher.groupchat.texts import is_cancel_reply
from tests.support import platform_callbacks as pc

TOKEN, AES_KEY, CORP = pc.WECOM_TOKEN, pc.WECOM_AES_KEY, pc.WECOM_CORP
APP_SECRET = pc.DINGTALK_SECRET
ENCRYPT_KEY, VTOKEN = pc.FEISHU_ENCRYPT_KEY, pc.FEISHU_TOKEN


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
    cb = pc.wecom_callback(xml, ts=ts, corp=corp)
    return CallbackRequest("POST", cb.query, cb.headers, cb.body)


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

DINGTALK = PlatformConfig(kind="dingtalk", app_secret=SecretStr(APP_SECRET))


def dingtalk_req(
    body: bytes, ts_ms: int | None = None, secret: str = APP_SECRET
) -> CallbackRequest:
    cb = pc.dingtalk_callback(body, ts_ms=ts_ms, secret=secret)
    return CallbackRequest("POST", {}, cb.headers, cb.body)


def dingtalk_body(text: str) -> bytes:
    return pc.dingtalk_body(text, "msgABC==")


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

FEISHU = PlatformConfig(
    kind="feishu", verification_token=SecretStr(VTOKEN), encrypt_key=SecretStr(ENCRYPT_KEY)
)


def feishu_event(text: str) -> dict[str, Any]:
    return pc.feishu_event(text, "om_1")


def feishu_req(
    doc: dict[str, Any], ts: int | None = None, key: str = ENCRYPT_KEY
) -> CallbackRequest:
    cb = pc.feishu_callback(doc, ts=ts, key=key)
    return CallbackRequest("POST", {}, cb.headers, cb.body)


def lark_accepts(req: CallbackRequest) -> bool:
    return pc.lark_accepts(pc.Callback(req.query, req.headers, req.body))


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
    assert refused("feishu", FEISHU, wrong_key).reason == "bad_signature"
    unsigned = CallbackRequest("POST", {}, {}, wrong_key.body)  # no signature, wrong key
    assert refused("feishu", FEISHU, unsigned).reason == "undecryptable"
    good = feishu_req(feishu_event("hi"))
    unsigned_good = CallbackRequest("POST", {}, {}, good.body)  # right key, no signature
    assert refused("feishu", FEISHU, unsigned_good).reason == "missing_signature"
    stale = feishu_req(feishu_event("hi"), ts=int(time.time()) - 3600)
    assert refused("feishu", FEISHU, stale).reason == "stale"
    plain = CallbackRequest("POST", {}, {}, json.dumps(feishu_event("hi")).encode())
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

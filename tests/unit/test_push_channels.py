"""Each channel's request against the platform's documented format.

Expected signatures are recomputed here with hmac/hashlib/base64 directly, never by
calling dispatcher.push.signing, so a shared mistake cannot pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable

import httpx
import pytest

from dispatcher.push.channels import DingTalkChannel, FeishuChannel, WebhookChannel, WeComChannel
from dispatcher.push.endpoints import EndpointConfig, EndpointKind
from dispatcher.push.model import (
    Delivered,
    Delivery,
    Mention,
    PermanentFailure,
    PushKind,
    PushMessage,
    RetryLater,
)

NOW = 1_700_000_000.123  # fixed wall clock
TEXT = "【危急】莲花五村3号楼 送医\n需要2位邻居帮忙，您能来吗？"


def delivery(**changes: object) -> Delivery:
    base: dict[str, object] = {
        "delivery_id": "offer-42-helper-7",
        "endpoint": "ep",
        "kind": PushKind.OFFER,
        "message": PushMessage(title="危急：送医", text=TEXT),
        "mentions": (Mention(mobile="13800000001"), Mention(mobile="13800000002")),
        "data": {"request_id": "r-42"},
    }
    base.update(changes)
    return Delivery.model_validate(base)


Handler = Callable[[httpx.Request], httpx.Response]


class Capture:
    def __init__(self, response: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response or httpx.Response(200, json={"errcode": 0, "code": 0})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


def endpoint(kind: EndpointKind, url: str, **kw: object) -> EndpointConfig:
    return EndpointConfig.model_validate({"name": "ep", "kind": kind, "url": url, **kw})


async def send(channel_type: type, ep: EndpointConfig, d: Delivery, capture: Capture) -> object:
    async with httpx.AsyncClient(transport=httpx.MockTransport(capture)) as client:
        return await channel_type(ep, client, lambda: NOW).send(d)


# -- generic signed webhook ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "key"),
    [
        (  # padding left off, as Standard Webhooks libraries allow
            "whsec_" + base64.b64encode(b"plain-shared-secret").decode().rstrip("="),
            b"plain-shared-secret",
        ),
        (
            "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode(),
            b"0123456789abcdef0123456789",
        ),
    ],
)
async def test_webhook_standard_headers_and_signature(configured: str, key: bytes) -> None:
    cap = Capture(httpx.Response(204))
    ep = endpoint(EndpointKind.WEBHOOK, "http://127.0.0.1:9/push", secret=configured)
    result = await send(WebhookChannel, ep, delivery(), cap)
    assert result == Delivered(204)
    req = cap.only
    assert req.method == "POST" and str(req.url) == "http://127.0.0.1:9/push"
    assert req.headers["webhook-id"] == "offer-42-helper-7"
    assert req.headers["webhook-timestamp"] == "1700000000"
    body = req.content
    expected = base64.b64encode(
        hmac.new(key, b"offer-42-helper-7.1700000000." + body, hashlib.sha256).digest()
    ).decode()
    assert req.headers["webhook-signature"] == f"v1,{expected}"
    payload = json.loads(body)
    assert payload["type"] == "push.offer"
    assert payload["data"]["text"] == TEXT
    assert payload["data"]["delivery_id"] == "offer-42-helper-7"
    assert payload["data"]["request_id"] == "r-42"


async def test_webhook_same_id_on_every_retry() -> None:
    cap = Capture(httpx.Response(503))
    ep = endpoint(EndpointKind.WEBHOOK, "http://127.0.0.1:9/push", secret="whsec_cw==")
    async with httpx.AsyncClient(transport=httpx.MockTransport(cap)) as client:
        channel = WebhookChannel(ep, client, lambda: NOW)
        first = await channel.send(delivery())
        second = await channel.send(delivery())
    assert isinstance(first, RetryLater) and isinstance(second, RetryLater)
    assert {r.headers["webhook-id"] for r in cap.requests} == {"offer-42-helper-7"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200), Delivered(200)),
        (httpx.Response(500), RetryLater("HTTP 500")),
        (httpx.Response(502), RetryLater("HTTP 502")),
        (httpx.Response(408), RetryLater("HTTP 408")),
        (
            httpx.Response(429, headers={"Retry-After": "7"}),
            RetryLater("HTTP 429", retry_after=7.0, throttled=True),
        ),
        (httpx.Response(400), PermanentFailure("HTTP 400")),
        (httpx.Response(404), PermanentFailure("HTTP 404")),
        (httpx.Response(410), PermanentFailure("HTTP 410")),
        (httpx.Response(302, headers={"location": "http://evil/"}), PermanentFailure("HTTP 302")),
    ],
)
async def test_webhook_status_mapping(response: httpx.Response, expected: object) -> None:
    ep = endpoint(EndpointKind.WEBHOOK, "http://127.0.0.1:9/push", secret="whsec_cw==")
    assert await send(WebhookChannel, ep, delivery(), Capture(response)) == expected


async def test_transport_errors_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    ep = endpoint(EndpointKind.WEBHOOK, "http://127.0.0.1:9/push", secret="whsec_cw==")
    for handler in (refuse, slow):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            result = await WebhookChannel(ep, client, lambda: NOW).send(delivery())
        assert isinstance(result, RetryLater)


# -- WeCom --------------------------------------------------------------------------------


async def test_wecom_text_with_mentions() -> None:
    cap = Capture()
    ep = endpoint(EndpointKind.WECOM, "http://127.0.0.1:9/cgi-bin/webhook/send", token="KEY-1")
    assert await send(WeComChannel, ep, delivery(), cap) == Delivered(200)
    req = cap.only
    assert req.url.path == "/cgi-bin/webhook/send"
    assert dict(req.url.params) == {"key": "KEY-1"}
    assert json.loads(req.content) == {
        "msgtype": "text",
        "text": {"content": TEXT, "mentioned_mobile_list": ["13800000001", "13800000002"]},
    }


async def test_wecom_truncates_to_2048_bytes_on_a_character_boundary() -> None:
    cap = Capture()
    ep = endpoint(EndpointKind.WECOM, "http://127.0.0.1:9/cgi-bin/webhook/send", token="K")
    long_text = "邻" * 1000  # 3000 bytes
    await send(WeComChannel, ep, delivery(message=PushMessage(title="t", text=long_text)), cap)
    content = json.loads(cap.only.content)["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.endswith("…")
    assert content[:-1] == "邻" * len(content[:-1])
    assert len(content.encode("utf-8")) > 2048 - 6  # not cut needlessly short


async def test_wecom_markdown_only_without_mentions() -> None:
    ep = endpoint(
        EndpointKind.WECOM,
        "http://127.0.0.1:9/cgi-bin/webhook/send",
        token="K",
        message_format="markdown",
    )
    cap = Capture()
    await send(WeComChannel, ep, delivery(mentions=()), cap)
    assert json.loads(cap.only.content) == {"msgtype": "markdown", "markdown": {"content": TEXT}}
    cap = Capture()
    await send(WeComChannel, ep, delivery(), cap)  # has mentions: markdown cannot @ by mobile
    assert json.loads(cap.only.content)["msgtype"] == "text"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"errcode": 0, "errmsg": "ok"}, Delivered),
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, RetryLater),
        ({"errcode": -1, "errmsg": "system busy"}, RetryLater),
        ({"errcode": 93000, "errmsg": "invalid webhook url"}, PermanentFailure),
        ({"errcode": 40008, "errmsg": "invalid message type"}, PermanentFailure),
        ({"unexpected": True}, RetryLater),
    ],
)
async def test_wecom_errcodes(answer: dict[str, object], kind: type) -> None:
    ep = endpoint(EndpointKind.WECOM, "http://127.0.0.1:9/cgi-bin/webhook/send", token="K")
    result = await send(WeComChannel, ep, delivery(), Capture(httpx.Response(200, json=answer)))
    assert isinstance(result, kind)
    if answer.get("errcode") == 45009:
        assert isinstance(result, RetryLater) and result.throttled and result.retry_after


# -- DingTalk -----------------------------------------------------------------------------


async def test_dingtalk_signed_query_and_body() -> None:
    secret = "SECabc123+/="
    cap = Capture()
    ep = endpoint(
        EndpointKind.DINGTALK, "http://127.0.0.1:9/robot/send", token="TOKEN-9", secret=secret
    )
    assert await send(DingTalkChannel, ep, delivery(), cap) == Delivered(200)
    req = cap.only
    timestamp_ms = int(NOW * 1000)
    expected_b64 = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    query = urllib.parse.parse_qs(req.url.query.decode())
    assert query == {
        "access_token": ["TOKEN-9"],
        "timestamp": [str(timestamp_ms)],
        "sign": [expected_b64],  # parse_qs URL-decodes: the wire value was urlencoded
    }
    raw_sign = req.url.query.decode().split("sign=", 1)[1]
    assert raw_sign == urllib.parse.quote_plus(expected_b64)
    assert json.loads(req.content) == {
        "msgtype": "text",
        "text": {"content": TEXT},
        "at": {"atUserIds": [], "isAtAll": False},
    }


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"errcode": 0, "errmsg": "ok"}, Delivered),
        ({"errcode": 130101, "errmsg": "send too fast"}, RetryLater),
        ({"errcode": 310000, "errmsg": "sign not match"}, PermanentFailure),
    ],
)
async def test_dingtalk_errcodes(answer: dict[str, object], kind: type) -> None:
    ep = endpoint(EndpointKind.DINGTALK, "http://127.0.0.1:9/robot/send", token="T")
    result = await send(DingTalkChannel, ep, delivery(), Capture(httpx.Response(200, json=answer)))
    assert isinstance(result, kind)


# -- Feishu -------------------------------------------------------------------------------


async def test_feishu_signature_key_is_timestamp_and_secret() -> None:
    secret = "feishu-secret"
    cap = Capture()
    ep = endpoint(
        EndpointKind.FEISHU,
        "http://127.0.0.1:9/open-apis/bot/v2/hook/",
        token="hook-tok",
        secret=secret,
    )
    mentions = (Mention(mobile="13800000001", open_id="ou_abc"),)
    assert await send(FeishuChannel, ep, delivery(mentions=mentions), cap) == Delivered(200)
    req = cap.only
    assert req.url.path == "/open-apis/bot/v2/hook/hook-tok"
    payload = json.loads(req.content)
    timestamp_s = int(NOW)
    expected = base64.b64encode(
        hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert payload["timestamp"] == str(timestamp_s)
    assert payload["sign"] == expected
    # The DingTalk-style (reversed) signature must not be what we send.
    reversed_sig = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp_s}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert payload["sign"] != reversed_sig
    assert payload["msg_type"] == "text"
    assert payload["content"]["text"] == '<at user_id="ou_abc"></at> ' + TEXT


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"code": 0, "msg": "success"}, Delivered),
        ({"StatusCode": 0, "StatusMessage": "success"}, Delivered),
        ({"code": 9499, "msg": "Bad Request"}, RetryLater),
        ({"code": 11232, "msg": "frequency limited"}, RetryLater),
        ({"code": 19021, "msg": "sign match fail"}, PermanentFailure),
    ],
)
async def test_feishu_codes(answer: dict[str, object], kind: type) -> None:
    ep = endpoint(EndpointKind.FEISHU, "http://127.0.0.1:9/open-apis/bot/v2/hook/", token="t")
    result = await send(FeishuChannel, ep, delivery(), Capture(httpx.Response(200, json=answer)))
    assert isinstance(result, kind)

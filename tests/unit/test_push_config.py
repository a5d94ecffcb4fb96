"""Endpoint configuration: no URLs from deliveries, no secrets in reprs or logs."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import ValidationError

from dispatcher.push.channels import DingTalkChannel, FeishuChannel, WeComChannel
from dispatcher.push.endpoints import (
    EndpointConfig,
    EndpointKind,
    EndpointRegistry,
    UnknownEndpointError,
)
from dispatcher.push.http import install_log_redaction, redact
from dispatcher.push.model import Delivery, Mention, PushKind, PushMessage
from dispatcher.settings import Settings


def test_secrets_not_in_repr() -> None:
    ep = EndpointConfig(
        name="ding",
        kind=EndpointKind.DINGTALK,
        url="https://oapi.dingtalk.com/robot/send",  # type: ignore[arg-type]
        token="TOKEN-SHOULD-NOT-SHOW",  # type: ignore[arg-type]
        secret="SEC-SHOULD-NOT-SHOW",  # type: ignore[arg-type]
    )
    for text in (repr(ep), str(ep), ep.model_dump_json()):
        assert "SHOULD-NOT-SHOW" not in text


def test_delivery_repr_hides_text_and_mobiles() -> None:
    d = Delivery(
        delivery_id="a-1",
        endpoint="x",
        kind=PushKind.ASSIGNMENT,
        message=PushMessage(title="接单成功", text="联系人：王阿姨 13812345678"),
        mentions=(Mention(mobile="13900001111"),),
    )
    assert "13812345678" not in repr(d) and "13900001111" not in repr(d)


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "http://169.254.169.254/latest/meta-data"},  # deliveries never carry URLs
        {"delivery_id": "bad id\r\nX-Injected: 1"},  # travels as a header
    ],
)
def test_delivery_rejects_urls_and_unsafe_ids(changes: dict[str, str]) -> None:
    fields = {"delivery_id": "a", "endpoint": "x", "kind": "offer"}
    fields |= {"message": {"title": "t", "text": "t"}, **changes}  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        Delivery.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "wecom", "url": "https://q.example/send"},  # no key
        {"kind": "webhook", "url": "https://relay.example/push"},  # no secret
        {"kind": "wecom", "url": "https://q.example/send?key=abc", "token": "abc"},
        {"kind": "webhook", "url": "https://u:p@relay.example/push", "secret": "whsec_cw=="},
        {"kind": "webhook", "url": "ftp://relay.example/push", "secret": "whsec_cw=="},
        {"kind": "webhook", "url": "https://relay.example/push", "secret": "whsec_not*base64"},
    ],
)
def test_invalid_endpoints(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        EndpointConfig.model_validate({"name": "e", **fields})


def test_registry_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DISPATCH_PUSH_ENDPOINTS",
        '[{"name": "grid-1", "kind": "wecom", "url": "https://q.example/send", "token": "k"}]',
    )
    registry = EndpointRegistry(Settings().push_endpoints)
    assert "grid-1" in registry and len(registry) == 1
    assert registry.get("grid-1").effective_rate() == (15.0, 5)
    with pytest.raises(UnknownEndpointError):
        registry.get("nope")
    with pytest.raises(ValueError):
        EndpointRegistry([registry.get("grid-1"), registry.get("grid-1")])


def test_redact() -> None:
    assert redact("http://h/send?key=abc&x=1") == "http://h/send?key=***&x=***"  # every value
    assert "tok" not in redact("https://open.feishu.cn/open-apis/bot/v2/hook/tok")
    assert "SIG" not in redact("http://h/robot/send?access_token=T&timestamp=1&sign=SIG")


async def test_robot_credentials_do_not_reach_logs(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    eps = [
        (
            WeComChannel,
            EndpointConfig.model_validate(
                {"name": "w", "kind": "wecom", "url": "http://127.0.0.1:9/send", "token": "KEYLEAK"}
            ),
        ),
        (
            DingTalkChannel,
            EndpointConfig.model_validate(
                {
                    "name": "d",
                    "kind": "dingtalk",
                    "url": "http://127.0.0.1:9/robot/send",
                    "token": "TOKLEAK",
                    "secret": "SECLEAK",
                }
            ),
        ),
        (
            FeishuChannel,
            EndpointConfig.model_validate(
                {
                    "name": "f",
                    "kind": "feishu",
                    "url": "http://127.0.0.1:9/bot/v2/hook/",
                    "token": "HOOKLEAK",
                    "secret": "SECLEAK",
                }
            ),
        ),
    ]
    d = Delivery(
        delivery_id="x", endpoint="w", kind=PushKind.OFFER, message=PushMessage(title="t", text="t")
    )
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"errcode": 0, "code": 0}))
    async with httpx.AsyncClient(transport=transport) as client:
        for channel_type, ep in eps:
            await channel_type(ep, client).send(d)
            assert "LEAK" not in repr(channel_type(ep, client))
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert "LEAK" not in caplog.text

"""Webhook and bot secrets as the Standard Webhooks libraries read them: "whsec_" + base64.

The reference library (`standardwebhooks`, the receiver's or the bot's side) base64-decodes
whatever secret it is given, prefix or not. We used a secret without the prefix as its raw
UTF-8 bytes, so a relay verifying with the library and the same string (the README's
`secrets.token_hex(32)`, which is valid base64) rejected every push, and a bot signing with
the library was refused. Now both sides agree, and any other form is refused when configured.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from standardwebhooks.webhooks import Webhook

from dispatcher.api import webhook_signature as ws
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.view import ConfigView
from dispatcher.groupchat.bots import BotConfig
from dispatcher.push.channels.webhook import WebhookChannel
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import Delivery, PushKind, PushMessage

WHSEC = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
HEX = secrets.token_hex(32)  # what the README told operators to generate
HINT = "base64.b64encode(secrets.token_bytes(32))"


def relay(secret: str) -> EndpointConfig:
    return EndpointConfig(
        name="relay", kind="webhook", url="https://relay.example.net/push", secret=secret
    )


def deliveries() -> list[Delivery]:
    return [
        Delivery(
            delivery_id=f"ev-{kind.value}:0",
            endpoint="relay",
            kind=kind,
            message=PushMessage(title="标题", text='文本 \u2028 😀 "q" </script>'),
            recipient="h-1",
            data={"request_id": "r-1", "x": "ü"},
        )
        for kind in PushKind
    ]


@pytest.mark.parametrize("secret", [WHSEC, WHSEC.rstrip("=")], ids=["padded", "unpadded"])
async def test_the_standardwebhooks_library_verifies_every_push(secret: str) -> None:
    receiver = Webhook(secret)
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel(relay(secret), client)
        batch = deliveries()
        requests = [channel.build_request(d) for d in batch]
        requests.append(channel.build_batch_request("batch-1", batch))
    for request in requests:
        payload = receiver.verify(request.content, dict(request.headers))
        assert payload["type"].startswith("push.")


def test_a_bot_signing_with_the_library_is_accepted() -> None:
    bot = BotConfig(bot_id="b1", secrets=(SecretStr(WHSEC),), communities=frozenset({"c1"}))
    body = '{"text":"谁能帮忙"}'.encode()
    payload = ws.bound_payload("POST", "/v1/messages", body)
    now = datetime.now(UTC)
    signature = Webhook(WHSEC).sign("msg_1", now, payload)
    headers = ws.parse_headers("msg_1", str(int(now.timestamp())), signature)
    ws.verify(bot.keys(), headers, payload, now.timestamp(), ws.TOLERANCE_S)


@pytest.mark.parametrize("raw", [HEX, "plain-shared-secret-0123456789abcdef", "whsec_not*b64"])
def test_an_endpoint_secret_not_in_whsec_form_is_refused_with_how_to_make_one(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        relay(raw)
    [error] = refused.value.errors()
    assert error["loc"] == ("secret",)
    assert "webhook endpoint 'relay'" in error["msg"] and "whsec_" in error["msg"]
    assert HINT in error["msg"] and raw not in error["msg"]


@pytest.mark.parametrize("raw", [HEX, "plain-shared-secret-0123456789abcdef"])
def test_a_bot_secret_not_in_whsec_form_is_refused_with_how_to_make_one(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BotConfig(bot_id="b1", secrets=(SecretStr(raw),), communities=frozenset({"c1"}))
    [error] = refused.value.errors()
    assert error["loc"] == ("secrets",)
    assert "bot secret" in error["msg"] and HINT in error["msg"] and raw not in error["msg"]


@pytest.mark.parametrize("production", [False, True])
def test_config_set_endpoint_and_set_bot_refuse_a_raw_secret(production: bool) -> None:
    changes = Changes(view=ConfigView(), actor="li", now=datetime.now(UTC), production=production)
    endpoint = {"name": "relay", "kind": "webhook", "url": "https://relay.example.net/p"}
    with pytest.raises(ConfigError) as refused:
        changes.endpoint({**endpoint, "secret": HEX}, None)
    assert refused.value.code == "invalid" and "endpoint/relay" in str(refused.value)
    assert HEX not in str(refused.value) and "whsec_" in str(refused.value)  # how to make one
    with pytest.raises(ConfigError) as refused:
        changes.bot({"bot_id": "b1", "secrets": [HEX], "communities": ["c1"]})
    assert refused.value.code == "invalid" and "bot/b1" in str(refused.value)
    assert HEX not in str(refused.value) and "whsec_" in str(refused.value)
    changes.endpoint({**endpoint, "secret": WHSEC}, None)  # the whsec_ form: unchanged
    changes.bot({"bot_id": "b1", "secrets": [WHSEC], "communities": ["c1"]})
    assert len(changes.outcome.records) == 2

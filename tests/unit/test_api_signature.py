"""Standard Webhooks verification and bot configuration (pure parts of bot auth)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from dispatcher.api import webhook_signature as ws
from dispatcher.groupchat.bots import (
    BotConfig,
    GroupPlace,
    building_id_for,
    load_registry,
    secret_key,
)
from dispatcher.settings import Settings

KEY = b"0123456789abcdef0123"
X20 = "whsec_" + base64.b64encode(b"x" * 20).decode()
BODY = b'{"text":"\xe8\xb0\x81\xe8\x83\xbd\xe5\xb8\xae\xe5\xbf\x99"}'
NOW = 1_700_000_000


def parsed(headers: dict[str, str]) -> ws.SignedHeaders:
    return ws.parse_headers(
        headers.get("webhook-id"),
        headers.get("webhook-timestamp"),
        headers.get("webhook-signature"),
    )


def test_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks spec / svix libraries.
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    sig = ws.sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_good_signature_within_tolerance() -> None:
    h = ws.signed_headers([KEY], BODY, timestamp=NOW)
    ws.verify([KEY], parsed(h), BODY, NOW + 299, ws.TOLERANCE_S)
    with pytest.raises(ws.SignatureError) as err:
        ws.verify([KEY], parsed(h), BODY, NOW + 301, ws.TOLERANCE_S)
    assert err.value.reason == "stale_timestamp"


def test_rotation_any_key_any_signature() -> None:
    old, new = b"old-key-0123456789", b"new-key-0123456789"
    h = ws.signed_headers([b"unrelated-key-000000", new], BODY, timestamp=NOW)
    ws.verify([old, new], parsed(h), BODY, NOW, ws.TOLERANCE_S)
    with pytest.raises(ws.SignatureError):
        ws.verify([old], parsed(h), BODY, NOW, ws.TOLERANCE_S)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_headers"),
        (
            {"webhook-id": "a b", "webhook-timestamp": "1", "webhook-signature": "v1,AA=="},
            "bad_headers",
        ),
        (
            {"webhook-id": "a", "webhook-timestamp": "-1", "webhook-signature": "v1,AA=="},
            "bad_headers",
        ),
        (
            {"webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v2,AA=="},
            "bad_signature",
        ),
        (
            {"webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v1,@@@"},
            "bad_signature",
        ),
    ],
)
def test_header_refusals(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(ws.SignatureError) as err:
        parsed(headers)
    assert err.value.reason == reason


def test_body_and_id_are_covered() -> None:
    h = ws.signed_headers([KEY], BODY, timestamp=NOW)
    with pytest.raises(ws.SignatureError):
        ws.verify([KEY], parsed(h), BODY + b" ", NOW, ws.TOLERANCE_S)
    h2 = {**h, "webhook-id": "msg_other"}
    with pytest.raises(ws.SignatureError):
        ws.verify([KEY], parsed(h2), BODY, NOW, ws.TOLERANCE_S)


def test_bot_config_validation() -> None:
    assert secret_key(SecretStr("whsec_" + base64.b64encode(b"k" * 16).decode())) == b"k" * 16
    with pytest.raises(ValueError):
        secret_key(SecretStr("whsec_c2hvcnQ="))
    with pytest.raises(ValidationError):
        BotConfig(
            bot_id="b",
            secrets=(SecretStr(X20),),
            communities=frozenset({"c1"}),
            groups={"g": GroupPlace(community_id="elsewhere")},
        )
    with pytest.raises(ValidationError):  # three active secrets: rotation allows two
        BotConfig(bot_id="b", secrets=(SecretStr(X20),) * 3, communities=frozenset({"c"}))


def test_registry_from_file_and_dev_default(tmp_path: Path) -> None:
    path = tmp_path / "bots.json"
    path.write_text(
        json.dumps({"bots": [{"bot_id": "b1", "secrets": [X20], "communities": ["c1"]}]})
    )
    assert load_registry(Settings(), str(path)).get("b1") is not None
    assert load_registry(Settings(mode="dev"), "").get("dev-bot") is not None  # dev only
    assert load_registry(Settings(), "").get("dev-bot") is None  # production is the default
    prod = Settings(link_secret=SecretStr("a-real-production-secret"))
    assert load_registry(prod, "").bots == {}


def test_building_hint_to_building_id() -> None:
    group = GroupPlace(community_id="c", compound_id="p", buildings={"3": "tower-3"})
    assert building_id_for(group, "3") == "tower-3"
    assert building_id_for(group, "12") == "b12"
    assert building_id_for(group, None) is None
    assert building_id_for(GroupPlace(community_id="c", building_id="b9"), "3") == "b9"

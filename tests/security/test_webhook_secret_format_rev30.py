"""A webhook relay's or a bot's secret that a Standard Webhooks library would read as another
key (here the README's old `secrets.token_hex(32)`) stops the process at start-up, in dev
mode too: the setting is named, the fix is said, the secret is never shown."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.security.test_startup_secrets import start

RAW = secrets.token_hex(32)
HINT = "base64.b64encode(secrets.token_bytes(32))"


def assert_refused(stderr: str, named: str) -> None:
    assert named in stderr and "'whsec_' + the base64" in stderr and HINT in stderr
    for part in (RAW, RAW[:12], RAW[-12:]):
        assert part not in stderr


def test_a_push_endpoint_with_a_raw_secret_does_not_start() -> None:
    relay = {"name": "relay", "kind": "webhook", "url": "https://relay.example.net/p"}
    done = start(
        "worker",
        DISPATCH_MODE="dev",
        DISPATCH_PUSH_ENDPOINTS=json.dumps([{**relay, "secret": RAW}]),
    )
    assert done.returncode == 78, done.stderr
    assert_refused(done.stderr, "DISPATCH_PUSH_ENDPOINTS.0.secret: Value error, webhook endpoint")


def test_a_bots_file_with_a_raw_secret_does_not_start(tmp_path: Path) -> None:
    bots = tmp_path / "bots.json"
    bots.write_text(json.dumps({"bots": [{"bot_id": "b1", "secrets": [RAW]}]}), encoding="utf-8")
    done = start("api", DISPATCH_MODE="dev", DISPATCH_BOTS_FILE=str(bots))
    assert done.returncode == 78, done.stderr
    assert_refused(done.stderr, "bots.0.secrets: Value error, a bot secret")

"""The bots file and DISPATCH_PUSH_ENDPOINTS seed production's live configuration: their
signing keys are held to `config apply`'s rules, at start-up and again when seeding.

The attack: a production API started with the repository's example bots file accepted
requests signed with the key the repository publishes (a forged critical request: 202).
Now that start is refused, naming the bot and never its key; the key published before
(base64 of CHANGE-ME-CHANGE-ME-CHANGE-ME) is refused wherever it is set."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from dispatcher.config.bootstrap import seed_records
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.secrets import new_secret
from dispatcher.config.view import ConfigView
from dispatcher.groupchat.bots import BotConfig
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.settings import REPO_ROOT
from tests.security.test_startup_secrets import STRONG, start

PUBLISHED_KEY = "whsec_Q0hBTkdFLU1FLUNIQU5HRS1NRS1DSEFOR0UtTUU="
# Long enough and random-looking as written: only its decoded text gives it away.
LONG_PLACEHOLDER = "whsec_" + base64.b64encode(b"CHANGE-ME-" * 4).decode()
PUBLIC = {**STRONG, "DISPATCH_PUBLIC_BASE_URL": "https://dispatch.neighbours.cn"}
COMPOSE = REPO_ROOT / "deploy/compose"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _bots_file(path: Path, secret: str) -> str:
    bot = {"bot_id": "grid-bot", "secrets": [secret], "communities": ["c1"]}
    path.write_text(json.dumps({"bots": [bot]}), encoding="utf-8")
    return str(path)


def _relay(secret: str) -> str:
    url = "https://push.neighbours.cn/push"
    return json.dumps([{"name": "relay", "kind": "webhook", "url": url, "secret": secret}])


def test_the_example_bots_file_cannot_start_a_production_api() -> None:
    example = COMPOSE / "bots.example.json"
    done = start("api", **PUBLIC, DISPATCH_BOTS_FILE=str(example))
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_BOTS_FILE[wecom-siming-xian].secrets is a known default" in done.stderr
    key = json.loads(example.read_text(encoding="utf-8"))["bots"][0]["secrets"][0]
    assert key not in done.stdout + done.stderr  # named, never echoed


@pytest.mark.parametrize("command", ["api", "worker"])
def test_the_published_key_is_refused_in_the_bots_file_and_the_endpoints(
    command: str, tmp_path: Path
) -> None:
    done = start(
        command,
        **PUBLIC,
        DISPATCH_BOTS_FILE=_bots_file(tmp_path / "bots.json", PUBLISHED_KEY),
        DISPATCH_PUSH_ENDPOINTS=_relay(PUBLISHED_KEY),
    )
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_BOTS_FILE[grid-bot].secrets decodes to a known default" in done.stderr
    assert "DISPATCH_PUSH_ENDPOINTS[relay].secret decodes to a known default" in done.stderr
    assert PUBLISHED_KEY not in done.stdout + done.stderr


def test_the_example_env_endpoints_cannot_start_production() -> None:
    lines = (COMPOSE / ".env.example").read_text(encoding="utf-8").splitlines()
    dotenv = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    done = start("api", **PUBLIC, DISPATCH_PUSH_ENDPOINTS=dotenv["DISPATCH_PUSH_ENDPOINTS"])
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_PUSH_ENDPOINTS[default].secret is a known default" in done.stderr


def test_a_long_placeholder_key_is_judged_by_what_it_decodes_to(tmp_path: Path) -> None:
    done = start(
        "api", **PUBLIC, DISPATCH_BOTS_FILE=_bots_file(tmp_path / "bots.json", LONG_PLACEHOLDER)
    )
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_BOTS_FILE[grid-bot].secrets decodes to a known default" in done.stderr
    production = Changes(view=ConfigView(), actor="li", now=NOW, production=True)
    with pytest.raises(ConfigError) as refused:  # `config apply`: the same rule
        production.bot({"bot_id": "grid-bot", "secrets": [LONG_PLACEHOLDER]})
    assert refused.value.code == "weak_secret"


def _bot(secret: str) -> BotConfig:
    return BotConfig(bot_id="grid-bot", secrets=(SecretStr(secret),), communities=frozenset({"c1"}))


def _endpoint(secret: str) -> EndpointConfig:
    return EndpointConfig.model_validate(json.loads(_relay(secret))[0])


def test_seeding_refuses_what_config_apply_refuses() -> None:
    """Defence in depth: an empty store is never seeded with the published key, whatever
    started the process."""
    with pytest.raises(ConfigError) as refused:
        seed_records(ConfigView(), [_bot(PUBLISHED_KEY)], [_endpoint(PUBLISHED_KEY)], NOW)
    assert refused.value.code == "weak_secret"
    assert "DISPATCH_BOTS_FILE[grid-bot].secrets" in str(refused.value)
    assert "DISPATCH_PUSH_ENDPOINTS[relay].secret" in str(refused.value)
    assert PUBLISHED_KEY not in str(refused.value)
    seeded = seed_records(ConfigView(), [_bot(new_secret())], [_endpoint(new_secret())], NOW)
    assert [r.key for r in seeded] == ["bot/grid-bot", "endpoint/relay"]

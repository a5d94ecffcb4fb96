"""Attack (session 41 audit): production ran a Feishu bot without an Encrypt Key, whose
callbacks anyone who has seen one can forge (Feishu signs nothing for such an app, and its
Verification Token travels in every body; the forgery: test_feishu_unsigned_replay_s41.py).

Before session 41 a production bots file with such a bot loaded, and the API started. Now
the process stops at load, naming the bot and the missing field, never a secret; with the
app's Encrypt Key the same file passes that check. Real processes, as an operator starts
them (they never reach Kafka or PostgreSQL: the check comes first)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from dispatcher.config.bootstrap import environment_problems
from dispatcher.groupchat.bots import load_registry
from dispatcher.settings import Settings
from tests.security.test_startup_secrets import STRONG, start

PUBLIC = {**STRONG, "DISPATCH_PUBLIC_BASE_URL": "https://dispatch.neighbours.cn"}
TOKEN = "vt-" + secrets.token_urlsafe(24)  # the app's Verification Token


def bots_file(path: Path, **platform: str) -> str:
    feishu = {"kind": "feishu", "verification_token": TOKEN} | platform
    bot = {"bot_id": "feishu-tuqiang", "platform": feishu, "communities": ["siming-xian"]}
    path.write_text(json.dumps({"bots": [bot]}), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", ["api", "worker"])
def test_a_production_bots_file_with_a_feishu_bot_without_encrypt_key_is_refused(
    command: str, tmp_path: Path
) -> None:
    done = start(command, **PUBLIC, DISPATCH_BOTS_FILE=bots_file(tmp_path / "bots.json"))
    # A configuration problem among the others (EX_CONFIG), not a crash's traceback.
    assert done.returncode == 78, done.stderr
    assert "Traceback" not in done.stderr
    assert "DISPATCH_BOTS_FILE[feishu-tuqiang].platform.encrypt_key is missing" in done.stderr
    assert TOKEN not in done.stdout + done.stderr  # named, never echoed


def test_with_its_encrypt_key_the_same_file_loads_and_passes_the_start_up_check(
    tmp_path: Path,
) -> None:
    keyed = Path(bots_file(tmp_path / "bots.json", encrypt_key=secrets.token_urlsafe(24)))
    production = Settings(bots_file=keyed)  # no DISPATCH_MODE: production
    assert environment_problems(production) == []  # what `start` runs before anything
    assert load_registry(production).get("feishu-tuqiang") is not None

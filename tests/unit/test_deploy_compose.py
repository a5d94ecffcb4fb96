"""The one-machine deployment hands every service configuration the code accepts: a bots
file where DISPATCH_BOTS_FILE points, push endpoints the settings parse."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from dispatcher.groupchat.bots import _BotsFile
from dispatcher.settings import REPO_ROOT, Settings

COMPOSE = REPO_ROOT / "deploy/compose"


def _env_example() -> dict[str, str]:
    lines = (COMPOSE / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_api_gets_the_bots_file_and_workers_the_push_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    dotenv = _env_example()
    services = compose["services"]
    for name in ("api", "worker-1", "worker-2"):
        env = {
            k: re.sub(r"\$\{(\w+)[:?-][^}]*\}", lambda m: dotenv.get(m[1], ""), str(v))
            for k, v in services[name]["environment"].items()
        }
        for key in [k for k in os.environ if k.startswith("DISPATCH_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.push_endpoints, name  # the notify agent is on
        assert settings.bots_file is not None
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in services["api"]["volumes"])
    assert mounts["./bots.json"] == str(settings.bots_file)
    example = (COMPOSE / "bots.example.json").read_text(encoding="utf-8")
    assert _BotsFile.model_validate_json(example).bots

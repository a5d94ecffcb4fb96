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


def test_the_api_probes_every_worker_on_its_web_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream-health view reads each worker's /stats: DISPATCH_WORKER_WEB_URLS names
    every worker service, on the port its command gives it."""
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    for key in [k for k in os.environ if k.startswith("DISPATCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(
        "DISPATCH_WORKER_WEB_URLS", services["api"]["environment"]["DISPATCH_WORKER_WEB_URLS"]
    )
    urls = Settings().worker_web_urls
    workers = {
        name: s["command"][s["command"].index("--web-port") + 1]
        for name, s in services.items()
        if s.get("command", [None])[0] == "worker"
    }
    assert len(workers) >= 2
    assert sorted(urls) == sorted(f"http://{name}:{port}" for name, port in workers.items())

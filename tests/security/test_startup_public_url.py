"""Production refuses a public base URL no helper can open: every offer link is built on
it, so plain http (links are bearer credentials), a loopback or private address, a local
name, or the examples' placeholder (dispatch.example.org) stops the start, with the
reason. Dev mode keeps the loopback default."""

from __future__ import annotations

import secrets

import pytest
import yaml
from pydantic import SecretStr

from dispatcher.secret_policy import enforce, public_url_problems
from dispatcher.settings import REPO_ROOT, Settings
from tests.security.test_startup_secrets import STRONG, start

GOOD = [
    "https://dispatch.neighbours.cn",
    "https://help.neighbours.cn:8443/d/",
    "https://[2400:3200::1]/",
]
BAD = {
    "http://dispatch.neighbours.cn": "is not https",
    "https://127.0.0.1:8080": "points at 127.0.0.1, a loopback or private address",
    "https://192.168.1.20": "points at 192.168.1.20, a loopback or private address",
    "https://[::1]/": "points at ::1, a loopback or private address",
    "https://localhost": "points at localhost, a local or reserved name",
    "https://api:8080": "points at api, a local or reserved name",
    "https://dispatch.example": "points at dispatch.example, a local or reserved name",
    "https://example.com": "points at example.com, a placeholder",
    "https://dispatch.example.net": "points at dispatch.example.net, a placeholder",
    "https://staff:pw@dispatch.neighbours.cn": "carries user-info",
    "https://[::1": "is not a URL",
}


@pytest.mark.parametrize("command", ["api", "worker"])
def test_production_with_the_loopback_default_does_not_start(command: str) -> None:
    done = start(command, **STRONG)  # strong secrets, DISPATCH_PUBLIC_BASE_URL unset
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_PUBLIC_BASE_URL is not https" in done.stderr
    assert "DISPATCH_PUBLIC_BASE_URL points at 127.0.0.1" in done.stderr


def test_the_shipped_placeholder_does_not_start() -> None:
    docs = yaml.safe_load_all((REPO_ROOT / "deploy/k8s/config.yaml").read_text(encoding="utf-8"))
    k8s = next(d for d in docs if d and d.get("kind") == "ConfigMap")["data"]
    done = start("api", **STRONG, DISPATCH_PUBLIC_BASE_URL=k8s["DISPATCH_PUBLIC_BASE_URL"])
    assert done.returncode == 78, done.stderr
    assert "DISPATCH_PUBLIC_BASE_URL points at dispatch.example.org, a placeholder" in done.stderr
    assert "DISPATCH_LINK_SECRET" not in done.stderr  # only what is wrong is named


@pytest.mark.parametrize(("url", "why"), BAD.items())
def test_a_base_no_helper_can_open_is_named(url: str, why: str) -> None:
    assert any(why in p for p in public_url_problems(Settings(public_base_url=url)))


@pytest.mark.parametrize("url", GOOD)
def test_a_public_https_base_with_strong_secrets_starts(url: str) -> None:
    strong = {k.removeprefix("DISPATCH_").lower(): SecretStr(v) for k, v in STRONG.items()}
    settings = Settings(public_base_url=url, **strong)  # type: ignore[arg-type]
    assert public_url_problems(settings) == []
    enforce(settings, "the api")  # no SystemExit


def test_dev_mode_keeps_the_loopback_default() -> None:
    dev = Settings(mode="dev", link_secret=SecretStr(secrets.token_hex(32)))
    assert dev.public_base_url.startswith("http://127.0.0.1")
    enforce(dev, "the api")  # no SystemExit

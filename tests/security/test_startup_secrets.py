"""Finding 2: production is the default and refuses default, empty, short or guessable
secrets; the process exits at once with a message naming the setting."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from dispatcher.secret_policy import production_problems, secret_problem
from dispatcher.settings import REPO_ROOT, Settings

STRONG = {
    "DISPATCH_LINK_SECRET": secrets.token_urlsafe(32),
    "DISPATCH_STAFF_TOKEN": secrets.token_urlsafe(32),
    "DISPATCH_HELPER_ID_KEY": secrets.token_hex(32),
    "DISPATCH_METRICS_TOKEN": secrets.token_urlsafe(32),
    "DISPATCH_CONTACT_KEY": secrets.token_hex(32),
}


def start(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    # Nothing listens on these: a process that got past the check would hang or fail later.
    clean.update(
        {
            "DISPATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "DISPATCH_PG_DSN": "postgresql://x@127.0.0.1:1/x",
        }
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "dispatcher", command],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(REPO_ROOT),
    )


@pytest.mark.parametrize("command", ["api", "worker"])
def test_production_with_the_built_in_secrets_does_not_start(command: str) -> None:
    done = start(command)  # no DISPATCH_MODE: production
    assert done.returncode == 78, done.stderr
    for name in STRONG:
        assert name in done.stderr


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("dev-staff-token", "is a known default"),
        ("CHANGE-ME", "is a known default"),
        ("short-but-random-7Hq", "is shorter than 32"),
        ("a" * 64, "does not look random"),
    ],
)
def test_one_weak_staff_token_is_named(value: str, why: str) -> None:
    done = start("api", **{**STRONG, "DISPATCH_STAFF_TOKEN": value})
    assert done.returncode == 78
    assert f"DISPATCH_STAFF_TOKEN {why}" in done.stderr
    assert "DISPATCH_LINK_SECRET" not in done.stderr  # only the bad one is named


def test_a_previous_link_secret_is_held_to_the_same_rule() -> None:
    done = start(
        "api", **STRONG, DISPATCH_LINK_SECRETS_PREVIOUS='["dev-only-link-secret-change-me"]'
    )
    assert done.returncode == 78
    assert "DISPATCH_LINK_SECRETS_PREVIOUS[0] is a known default" in done.stderr


def test_the_contact_key_and_its_previous_keys_are_held_to_the_same_rule() -> None:
    """Issue 12.7: the key that seals contacts for Kafka; a short one, or the dev key kept
    as a previous one, stops the worker too (it opens the boxes for the assignment push)."""
    done = start(
        "worker",
        **{
            **STRONG,
            "DISPATCH_CONTACT_KEY": "short-but-random-7Hq",
            "DISPATCH_CONTACT_KEYS_PREVIOUS": '["dev-only-contact-key-change-me"]',
        },
    )
    assert done.returncode == 78
    assert "DISPATCH_CONTACT_KEY is shorter than 32" in done.stderr
    assert "DISPATCH_CONTACT_KEYS_PREVIOUS[0] is a known default" in done.stderr


def test_strong_secrets_pass_and_dev_mode_is_explicit() -> None:
    strong = {k.removeprefix("DISPATCH_").lower(): SecretStr(v) for k, v in STRONG.items()}
    assert production_problems(Settings(**strong)) == []  # type: ignore[arg-type]
    assert Settings().mode == "production"
    assert len(production_problems(Settings())) == len(STRONG)  # each built-in one


def test_the_shipped_example_manifests_cannot_start_production() -> None:
    """deploy/k8s/config.yaml's example Secret (CHANGE-ME) is refused if applied as is."""
    docs = list(yaml.safe_load_all(Path(REPO_ROOT, "deploy/k8s/config.yaml").read_text()))
    secret = next(d for d in docs if d and d.get("kind") == "Secret")
    values = {k: v for k, v in secret["stringData"].items() if k != "DISPATCH_PG_DSN"}
    assert values
    for name, value in values.items():
        assert secret_problem(str(value)) is not None, name


def test_placeholder_credentials_of_others_are_refused() -> None:
    """The example manifests' database password and robot key (CHANGE-ME) are refused too."""
    done = start(
        "api",
        **STRONG,
        DISPATCH_PG_DSN="postgresql://dispatch:CHANGE-ME@127.0.0.1:1/dispatch",
        DISPATCH_PUSH_ENDPOINTS='[{"name": "grid", "kind": "wecom", '
        '"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "token": "CHANGE-ME"}]',
    )
    assert done.returncode == 78
    assert "DISPATCH_PG_DSN's password is a placeholder" in done.stderr
    assert "DISPATCH_PUSH_ENDPOINTS[grid].token is a placeholder" in done.stderr
    assert "CHANGE-ME" not in done.stderr  # named, never echoed

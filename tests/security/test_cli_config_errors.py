"""A mistake in the settings never prints a secret set beside it: pydantic's traceback
quoted the input (`input_value=`, the tail of an app secret or a webhook key). Every
command now names the setting and field, says what is wrong, and exits 78 (EX_CONFIG).
`migrate` and `topics` with PostgreSQL or Kafka down say so in one line, without the DSN."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess

import pytest

from tests.security.test_startup_secrets import start

SECRET = secrets.token_hex(24)
KEY = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
BAD = {
    # app_id missing, beside the app's secret
    "DISPATCH_PLATFORM_LOGINS": (
        json.dumps([{"kind": "wecom", "communities": ["c1"], "app_secret": SECRET}]),
        "DISPATCH_PLATFORM_LOGINS.0.app_id: Field required",
    ),
    # url missing, beside the relay's signing key
    "DISPATCH_PUSH_ENDPOINTS": (
        json.dumps([{"name": "relay", "kind": "webhook", "secret": KEY}]),
        "DISPATCH_PUSH_ENDPOINTS.0.url: Field required",
    ),
}


def run(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Dev mode: the secrets check is not what is tested here. Nothing listens on Kafka's or
    # PostgreSQL's address (start's).
    return start(command, **{"DISPATCH_MODE": "dev", **env})


def assert_unquoted(done: subprocess.CompletedProcess[str], *values: str) -> None:
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown
    for value in values:  # nor a head or a tail of it, as pydantic abbreviates inputs
        for part in (value, value[:12], value[-12:]):
            assert part not in shown, part


@pytest.mark.parametrize("command", ["api", "worker", "migrate", "topics"])
@pytest.mark.parametrize("setting", ["DISPATCH_PLATFORM_LOGINS", "DISPATCH_PUSH_ENDPOINTS"])
def test_an_invalid_setting_is_named_and_its_secret_never_shown(command: str, setting: str) -> None:
    value, named = BAD[setting]
    done = run(command, **{setting: value})
    assert done.returncode == 78, done.stderr
    assert named in done.stderr
    assert_unquoted(done, SECRET, KEY)


def test_a_setting_that_is_not_json_is_named_and_never_shown() -> None:
    done = run("api", DISPATCH_PUSH_ENDPOINTS=f"[{{'secret': '{KEY}'")
    assert done.returncode == 78, done.stderr
    assert '"push_endpoints"' in done.stderr
    assert_unquoted(done, KEY)


def test_migrate_with_postgresql_down_says_so_in_one_line() -> None:
    done = run("migrate", DISPATCH_PG_DSN=f"postgresql://dispatch:{SECRET}@127.0.0.1:1/dispatch")
    assert done.returncode == 69, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrate: PostgreSQL (DISPATCH_PG_DSN) not ")
    assert_unquoted(done, SECRET)


def test_topics_with_kafka_down_says_so_without_a_traceback() -> None:
    done = run("topics")
    assert done.returncode == 69, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("topics: Kafka at 127.0.0.1:1 not reachable")
    assert "Traceback" not in done.stderr

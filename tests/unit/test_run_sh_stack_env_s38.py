"""`make run` (deploy/local/run.sh) points the worker and the API at the stack it starts:
the broker, database and Faust data dir `stack.sh env` prints from DISPATCH_KAFKA_PORT,
DISPATCH_PG_PORT and DISPATCH_STACK_DIR (before: the settings' built-in 127.0.0.1:19092,
:55432 and <repo>/.stack/faust whatever the stack's ports and directory, so a stack moved
off the default ports was started and then not used, and `stack.sh reset` wiped a Faust dir
the worker did not use). A variable already set is kept.

run.sh runs here as a copy beside a stand-in stack.sh that answers `env` with the real
script and refuses everything else, so no Kafka or PostgreSQL is ever started by this test
(not even by an old run.sh that does not know `--print-env`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dispatcher.settings import REPO_ROOT, Settings

LOCAL = REPO_ROOT / "deploy" / "local"
SERVICE_VARS = ("DISPATCH_KAFKA_BOOTSTRAP", "DISPATCH_PG_DSN", "DISPATCH_DATA_DIR")
STACK_VARS = ("DISPATCH_KAFKA_PORT", "DISPATCH_PG_PORT", "DISPATCH_STACK_DIR")


@pytest.fixture
def run_sh(tmp_path: Path) -> Path:
    here = tmp_path / "repo" / "deploy" / "local"
    here.mkdir(parents=True)
    shutil.copy2(LOCAL / "run.sh", here / "run.sh")
    stand_in = here / "stack.sh"
    stand_in.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = env ]; then exec {LOCAL / "stack.sh"} env; fi\n'
        'echo "stand-in stack.sh: refused $1" >&2\n'
        "exit 97\n"
    )
    stand_in.chmod(0o755)
    return here / "run.sh"


def printed_env(run_sh: Path, **env: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in SERVICE_VARS + STACK_VARS and k != "DISPATCH_MODE"
    }
    r = subprocess.run(
        [str(run_sh), "--print-env"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "refused" not in r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines())


def test_run_uses_the_stacks_ports_and_directory(run_sh: Path, tmp_path: Path) -> None:
    stack_dir = tmp_path / "other-stack"
    got = printed_env(
        run_sh,
        DISPATCH_KAFKA_PORT="29092",
        DISPATCH_PG_PORT="45432",
        DISPATCH_STACK_DIR=str(stack_dir),
    )
    assert got == {
        "DISPATCH_MODE": "dev",
        "DISPATCH_KAFKA_BOOTSTRAP": "127.0.0.1:29092",
        "DISPATCH_PG_DSN": "postgresql://dispatch@127.0.0.1:45432/dispatch",
        "DISPATCH_DATA_DIR": str(stack_dir / "faust"),
    }
    # …and these are the names the service reads them under.
    settings = Settings(**{k.removeprefix("DISPATCH_").lower(): v for k, v in got.items()})
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.pg_dsn.get_secret_value().endswith("@127.0.0.1:45432/dispatch")
    assert settings.data_dir == stack_dir / "faust"


def test_a_setting_given_is_kept(run_sh: Path, tmp_path: Path) -> None:
    got = printed_env(
        run_sh,
        DISPATCH_KAFKA_PORT="29092",
        DISPATCH_STACK_DIR=str(tmp_path / "s"),
        DISPATCH_KAFKA_BOOTSTRAP="kafka.example:9092",
        DISPATCH_PG_DSN="postgresql://me@db.example/dispatch",
        DISPATCH_DATA_DIR=str(tmp_path / "mine"),
        DISPATCH_MODE="production",
    )
    assert got == {
        "DISPATCH_MODE": "production",
        "DISPATCH_KAFKA_BOOTSTRAP": "kafka.example:9092",
        "DISPATCH_PG_DSN": "postgresql://me@db.example/dispatch",
        "DISPATCH_DATA_DIR": str(tmp_path / "mine"),
    }


def test_the_default_stack_is_the_settings_defaults() -> None:
    """With nothing set, `stack.sh env` names what Settings() defaults to, so the worker's
    Faust data is what `stack.sh reset` wipes."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS + STACK_VARS}
    r = subprocess.run(
        [str(LOCAL / "stack.sh"), "env"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines())
    defaults = Settings.model_fields
    assert got["DISPATCH_KAFKA_BOOTSTRAP"] == defaults["kafka_bootstrap"].default
    assert got["DISPATCH_PG_DSN"] == defaults["pg_dsn"].default.get_secret_value()
    assert Path(got["DISPATCH_DATA_DIR"]) == defaults["data_dir"].default

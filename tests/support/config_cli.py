"""`python -m dispatcher config ...` as an operator runs it, with the harness's settings."""

from __future__ import annotations

import subprocess
import sys

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack


def config_cli(stack: LocalStack, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "config", *args],
        env=stack.env(),
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) == ok, done.stderr + done.stdout
    return done

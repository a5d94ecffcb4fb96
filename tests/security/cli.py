"""Run a `python -m dispatcher` command against a test stack and read its JSON answer."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from dispatcher.testing.stack import LocalStack


def run_json(stack: LocalStack, *args: str, **env: str) -> dict[str, Any]:
    """`python -m dispatcher <args>` with the namespace's settings (and `env`): its answer."""
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", *args],
        env=stack.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer

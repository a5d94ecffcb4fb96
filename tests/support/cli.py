"""Run `python -m dispatcher ...` against the test stack, as staff would from a shell."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from dispatcher.testing.stack import LocalStack


async def run_cli_text(stack: LocalStack, *args: str) -> tuple[str, str]:
    """Exit 0 expected; its stdout and its stderr (the progress)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dispatcher", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


async def run_cli(stack: LocalStack, *args: str) -> tuple[dict[str, Any], str]:
    """Exit 0 expected; the JSON it prints on stdout, and its stderr (the progress)."""
    out, err = await run_cli_text(stack, *args)
    return json.loads(out), err

"""A production API whose live store holds a Feishu bot without an Encrypt Key: it loads the
store (Kafka's `config` topic, after start) and then answers `/readyz` 503 naming the bot
(config/bootstrap.SignedBotsView), so `stack.wait_ready` would time out: wait for that."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from dispatcher.testing.stack import LocalStack, Proc


async def unready_once_loaded(stack: LocalStack, proc: Proc, timeout: float = 60) -> httpx.Response:
    """The API's first `/readyz` answer once its configuration is loaded (Kafka and
    PostgreSQL answering too), whatever it says."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                r = await client.get("/readyz")
            except httpx.HTTPError:
                r = None
            if r is not None:
                checks: dict[str, Any] = r.json()["checks"]
                if checks["config"] != "loading" and checks["kafka"] == checks["postgres"] == "ok":
                    return r
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{proc.name} did not load its configuration in {timeout} s")

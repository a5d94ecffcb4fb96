"""Polling helpers: wait for a condition with a generous timeout, never assert a duration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 60,
    every: float = 0.2,
    what: str = "condition",
    explain: Callable[[], str] | None = None,
) -> T:
    """Return the first truthy result of `probe`, or fail after `timeout` seconds (with what
    `explain` says then: logs, state, to make a failure by chance self-explaining)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    why = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}{why}")

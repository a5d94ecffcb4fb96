"""Run the classifier off the event loop, with a time limit.

`classify` is pure CPU work (bounded: it reads at most `MAX_CHARS`); run on the loop, one
long message would stall every other request. A small dedicated pool keeps classification
from queueing behind other blocking work, and the limit turns a stuck call into a clear 503
the bot retries, never a hung request.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from dispatcher.api.errors import fail
from dispatcher.classify import Classification, classify

_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")


async def classify_off_loop(text: str, timeout_seconds: float) -> Classification:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(_POOL, classify, text), timeout=timeout_seconds
        )
    except TimeoutError:
        raise fail(
            503,
            "classify_timeout",
            "the message could not be classified in time; retry",
            {"Retry-After": "1"},
        ) from None

"""Run the classifier off the event loop, with a time limit.

`classify` is pure CPU work (bounded: it reads at most `MAX_CHARS`); run on the loop, one
long message would stall every other request. A small dedicated pool keeps classification
from queueing behind other blocking work, and the limit turns a stuck call into a clear 503
the bot retries, never a hung request. Unread, the message may be "我爸没有呼吸了": that 503
carries the call-now reply as an emergency's refusals do (`ratelimit.with_advice`), said for
the case it is one ("如有人生命危险，请立即拨打…").
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from dispatcher.api.errors import fail
from dispatcher.api.ratelimit import ALL_NUMBERS, with_advice
from dispatcher.classify import Classification, classify

_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")
# The advice for a message nobody could read: the call, for the case life is at risk.
IF_LIFE_AT_RISK: Final = f"如有人生命危险，请立即拨打{ALL_NUMBERS}！"


async def classify_off_loop(text: str, timeout_seconds: float) -> Classification:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(_POOL, classify, text), timeout=timeout_seconds
        )
    except TimeoutError:
        refusal = fail(
            503,
            "classify_timeout",
            "the message could not be classified in time: post reply_text (it may be an "
            "emergency), then retry",
            {"Retry-After": "1"},
        )
        raise with_advice(refusal, IF_LIFE_AT_RISK, None) from None

"""Per-bot and per-group rate limits: in-memory token buckets, one set per API process.

In memory on purpose: limits protect this process and the chat groups from a runaway bot;
with N API instances behind a balancer the effective limit is N times the configured one.
Group keys are bounded by the bots' configuration (unknown groups are refused earlier).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dispatcher.api.errors import fail
from dispatcher.push.token_bucket import TokenBucket


@dataclass
class RateLimiter:
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, ...], TokenBucket] = field(default_factory=dict)

    def wait_for(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Take a token for `key`: 0.0 when allowed, else seconds until the next token."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate_per_minute, burst, now)
        return bucket.try_take(now)

    def peek(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Seconds until `key` has a token (0.0 if it has one now); takes nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        available = bucket.tokens(self.clock())
        return 0.0 if available >= 1.0 else (1.0 - available) / bucket.rate

    def check(self, key: tuple[str, ...], rate_per_minute: float, burst: float, what: str) -> None:
        """Raise 429 with Retry-After (whole seconds, at least 1) when `key` is over its rate."""
        wait = self.wait_for(key, rate_per_minute, burst)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise fail(
                429,
                "rate_limited",
                f"rate limit for this {what} reached; retry in {seconds} s",
                {"Retry-After": str(seconds)},
            )

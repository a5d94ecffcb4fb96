"""Token bucket per endpoint. Pure: the caller passes `now`.

In any window of 60 s at most `capacity + rate_per_minute` sends pass, so a robot that
allows 20/minute is configured e.g. rate 15 + burst 5.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate_per_minute: float, capacity: float, now: float) -> None:
        if rate_per_minute <= 0 or capacity < 1:
            raise ValueError("rate_per_minute must be > 0 and capacity >= 1")
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def tokens(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def try_take(self, now: float) -> float:
        """Take one token and return 0.0, or take nothing and return the seconds until
        one will be available."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

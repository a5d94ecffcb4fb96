"""Retry schedule: exponential backoff with full jitter (AWS Architecture Blog, 2015).

Full jitter spreads retries of many deliveries that failed together, so a recovering
endpoint is not hit by a synchronised wave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The defaults are an offer's budget; LASTING is for what must arrive."""

    base_delay: float = 0.5  # seconds; ceiling of the first retry's delay
    max_delay: float = 30.0  # cap on any single delay
    max_attempts: int = 6  # sends in total, the first included
    max_total_time: float = 120.0  # from enqueue; an offer older than this is useless
    max_retry_after: float = 600.0  # ignore absurd Retry-After values beyond this

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay after the `attempt`-th failed send (1-based)."""
        exponent = min(max(attempt - 1, 0), 62)  # keep 2**n finite
        return float(min(self.max_delay, self.base_delay * (2**exponent)))

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, ceiling(attempt)]; `rand` returns [0, 1)."""
        return self.ceiling(attempt) * rand()

    def next_delay(
        self,
        attempt: int,
        retry_after: float | None,
        rand: Callable[[], float],
    ) -> float:
        """The delay before the next attempt. An endpoint's own Retry-After wins, since
        sending sooner only earns another refusal."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(attempt, rand)

    def should_give_up(self, attempt: int, elapsed: float, delay: float) -> bool:
        """True when the `attempt`-th send failed and another would be pointless."""
        return attempt >= self.max_attempts or elapsed + delay > self.max_total_time


# Whistles, referrals, assignments, cancellations, group replies…: they must outlast a
# platform's throttle (DingTalk's 130101 blocks a robot for 10 minutes) and a short outage,
# with spaced-out retries rather than a hammering of a robot that is down. Bounded at 30
# minutes: the notify agent acknowledges an event only once its pushes settle, so this is
# also how long one unreachable endpoint can hold back its partition's commit.
LASTING = RetryPolicy(max_delay=300.0, max_attempts=100, max_total_time=30 * 60.0)

"""Circuit breaker per endpoint. Pure: the caller passes `now`.

closed --N consecutive failures--> open --cool_down--> half-open (one probe)
half-open --probe ok--> closed;  half-open --probe fails--> open again.
"""

from __future__ import annotations

from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, cool_down: float = 30.0) -> None:
        if failure_threshold < 1 or cool_down < 0:
            raise ValueError("failure_threshold must be >= 1 and cool_down >= 0")
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at >= self.cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def wait_time(self, now: float) -> float | None:
        """0.0 if a send may start now; seconds until half-open if open; None if a
        half-open probe is in flight (wait for its outcome)."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return 0.0
        if state is BreakerState.OPEN:
            assert self._opened_at is not None
            return self._opened_at + self.cool_down - now
        return None if self._probe_in_flight else 0.0

    def on_send(self, now: float) -> None:
        """Call when a send starts; in half-open it becomes the single probe."""
        if self.state(now) is BreakerState.HALF_OPEN:
            self._probe_in_flight = True

    def record_success(self, now: float) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self, now: float) -> None:
        self._failures += 1
        if self._probe_in_flight or self._opened_at is not None:
            # A failed probe (or a straggler while open) restarts the cool-down.
            self._opened_at = now
        elif self._failures >= self.failure_threshold:
            self._opened_at = now
        self._probe_in_flight = False

    def record_neutral(self) -> None:
        """A send that says nothing about health (rate-limited, bad message): free the
        probe slot without changing state."""
        self._probe_in_flight = False

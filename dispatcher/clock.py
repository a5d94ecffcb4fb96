"""The one clock. Every wall-clock read of the product goes through `utcnow` or a `Clock`
passed in (the worker's `SystemClock`, the API's `ApiDeps.clock`), so tests can pass a fake;
`tests/unit/test_clock_reads.py` fails on a direct read anywhere else."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall clock, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes back."""
        ...


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC: the default wherever a clock is injected."""
    return datetime.now(UTC)


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

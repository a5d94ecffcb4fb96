"""Tests whose real timeline must lie within one local day wait out a local midnight that
would fall inside it. CI runs at any hour, and China's midnight is 16:00 UTC: a request
opened at 23:59:58 and read back at 00:00:01 is no longer "today" on the dashboard, in
the day's counts or (on a month's last day) in the month's report, nor does a helper's
per-day offer count carry over. Such a test calls `one_local_day(span_s)` before it
starts the timeline; nothing changes unless midnight is less than `span_s` away."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

# The samples' communities and the dashboard's day (dispatcher/record/read/dashboard.py).
LOCAL = timezone(timedelta(hours=8))


def seconds_to_local_midnight(now: datetime, zone: timezone = LOCAL) -> float:
    """Seconds from `now` (aware) to the next midnight in `zone`."""
    local = now.astimezone(zone)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds()


def wait_for_one_local_day(now: datetime, span_s: float, zone: timezone = LOCAL) -> float:
    """How long to wait from `now` so that the next `span_s` seconds lie in one local day:
    0 when midnight is at least that far, else until one second past it."""
    left = seconds_to_local_midnight(now, zone)
    return 0.0 if left >= span_s else left + 1.0


async def one_local_day(span_s: float) -> None:
    """Wait (at most `span_s` + 1 seconds, and only near local midnight) until the next
    `span_s` seconds lie in one local day."""
    wait = wait_for_one_local_day(datetime.now(UTC), span_s)
    if wait:
        print(f"local midnight in {wait - 1:.1f} s: waiting it out ({span_s:.0f} s timeline)")
        await asyncio.sleep(wait)

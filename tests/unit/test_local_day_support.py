"""tests/support/local_day: a timeline that would straddle local midnight waits it out."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.local_day import seconds_to_local_midnight, wait_for_one_local_day


def test_china_midnight_is_four_pm_utc() -> None:
    assert seconds_to_local_midnight(datetime(2026, 12, 6, 15, 59, 30, tzinfo=UTC)) == 30
    assert seconds_to_local_midnight(datetime(2026, 12, 6, 16, 0, 0, tzinfo=UTC)) == 86400


def test_far_from_midnight_nothing_waits() -> None:
    assert wait_for_one_local_day(datetime(2026, 12, 6, 15, 50, tzinfo=UTC), 300) == 0.0
    assert wait_for_one_local_day(datetime(2026, 12, 6, 16, 0, 1, tzinfo=UTC), 300) == 0.0


def test_a_timeline_that_would_straddle_midnight_waits_past_it() -> None:
    # 23:59:30 local, a 60 s timeline: wait until 00:00:01.
    assert wait_for_one_local_day(datetime(2026, 12, 6, 15, 59, 30, tzinfo=UTC), 60) == 31.0
    # The month's last day too: the same wait (a month changes only at midnight).
    assert wait_for_one_local_day(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), 5) == 2.0

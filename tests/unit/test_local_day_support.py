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


def test_the_midnight_audit_places_the_clock_lead_seconds_before_the_nearest_midnight() -> None:
    from tests.support.midnight_clock import offset_for

    at = datetime(2026, 12, 6, 17, 0, 0, tzinfo=UTC).timestamp()  # 01:00 local: back an hour
    assert datetime.fromtimestamp(at + offset_for(at, 10), UTC) == datetime(
        2026, 12, 6, 15, 59, 50, tzinfo=UTC
    )
    at = datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC).timestamp()  # 17:00 local: forward
    assert offset_for(at, 4.5) == 7 * 3600 - 4.5

"""The pure policy pieces: backoff, Retry-After, token bucket, circuit breaker, truncation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.push.backoff import RetryPolicy
from dispatcher.push.breaker import BreakerState, CircuitBreaker
from dispatcher.push.retry_after import parse_retry_after
from dispatcher.push.text import truncate_utf8
from dispatcher.push.token_bucket import TokenBucket

# -- backoff ------------------------------------------------------------------------------


def test_backoff_ceiling_doubles_then_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.ceiling(10_000) == 4.0  # no overflow


@given(attempt=st.integers(1, 100), r=st.floats(0, 1, exclude_max=True))
def test_full_jitter_within_zero_and_ceiling(attempt: int, r: float) -> None:
    policy = RetryPolicy(base_delay=0.25, max_delay=30.0)
    delay = policy.backoff(attempt, lambda: r)
    assert 0.0 <= delay <= policy.ceiling(attempt)


def test_full_jitter_uses_the_whole_range() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert policy.backoff(4, lambda: 0.0) == 0.0
    assert policy.backoff(4, lambda: 0.999) == pytest.approx(8.0 * 0.999)


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, max_retry_after=60.0)
    assert policy.next_delay(1, 5.0, lambda: 0.9) == 5.0
    assert policy.next_delay(1, 3600.0, lambda: 0.9) == 60.0
    assert policy.next_delay(3, None, lambda: 0.5) == 2.0


def test_give_up_on_attempts_or_total_time() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_time=10.0)
    assert not policy.should_give_up(1, elapsed=0.0, delay=1.0)
    assert policy.should_give_up(3, elapsed=0.0, delay=1.0)
    assert policy.should_give_up(1, elapsed=9.5, delay=1.0)


# -- Retry-After --------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # in the past: now
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("３", None),  # full-width digit is not delay-seconds
        ("9" * 5000, 1e9),  # past int()'s digit limit: a very long wait, not a crash
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@given(st.integers(1, 86_400))
def test_parse_retry_after_http_date_roundtrip(seconds: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, NOW) == pytest.approx(seconds)


# -- token bucket -------------------------------------------------------------------------


def test_bucket_burst_then_refill_rate() -> None:
    bucket = TokenBucket(rate_per_minute=15, capacity=5, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(5)] == [0.0] * 5
    wait = bucket.try_take(0.0)
    assert wait == pytest.approx(4.0)  # 15/min = one every 4 s
    assert bucket.try_take(3.9) > 0  # a failed take consumes nothing...
    assert bucket.try_take(4.0) == 0.0  # ...so the token is there on time
    assert bucket.try_take(4.0) == pytest.approx(4.0)


def test_bucket_never_exceeds_capacity() -> None:
    bucket = TokenBucket(rate_per_minute=60, capacity=3, now=0.0)
    assert bucket.tokens(1000.0) == 3.0


@given(st.lists(st.floats(0, 0.5), min_size=1, max_size=200))
def test_bucket_at_most_burst_plus_rate_in_any_minute(gaps: list[float]) -> None:
    bucket = TokenBucket(rate_per_minute=15, capacity=5, now=0.0)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        if bucket.try_take(now) == 0.0:
            sent.append(now)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60.0) <= 20


# -- circuit breaker ----------------------------------------------------------------------


def test_breaker_opens_after_threshold_and_half_opens_after_cool_down() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down=10.0)
    for t in (0.0, 1.0):
        breaker.record_failure(t)
        assert breaker.state(t) is BreakerState.CLOSED
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is BreakerState.OPEN
    assert breaker.wait_time(2.0) == pytest.approx(10.0)
    assert breaker.state(11.9) is BreakerState.OPEN
    assert breaker.state(12.0) is BreakerState.HALF_OPEN
    assert breaker.wait_time(12.0) == 0.0


def test_breaker_single_probe_then_close_on_success() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down=5.0)
    breaker.record_failure(0.0)
    breaker.on_send(5.0)  # the probe
    assert breaker.wait_time(5.0) is None  # others wait for its outcome
    breaker.record_success(5.5)
    assert breaker.state(5.5) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


def test_breaker_failed_probe_reopens_for_a_full_cool_down() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down=5.0)
    breaker.record_failure(0.0)
    breaker.on_send(6.0)
    breaker.record_failure(6.5)
    assert breaker.state(6.5) is BreakerState.OPEN
    assert breaker.state(11.4) is BreakerState.OPEN
    assert breaker.state(11.5) is BreakerState.HALF_OPEN


def test_breaker_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cool_down=5.0)
    breaker.record_failure(0.0)
    breaker.record_success(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is BreakerState.CLOSED


def test_breaker_neutral_result_frees_the_probe() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down=1.0)
    breaker.record_failure(0.0)
    breaker.on_send(1.0)
    breaker.record_neutral()
    assert breaker.state(1.0) is BreakerState.HALF_OPEN
    assert breaker.wait_time(1.0) == 0.0


# -- UTF-8 truncation ---------------------------------------------------------------------


def test_truncate_keeps_short_text() -> None:
    assert truncate_utf8("谢谢", 6) == "谢谢"


def test_truncate_never_splits_a_character() -> None:
    # 2048 is not a multiple of 3: a naive byte cut would split the 683rd character.
    out = truncate_utf8("邻" * 700, 2048)
    assert out == "邻" * 681 + "…"  # 681*3 + 3 = 2046 bytes
    assert len(out.encode()) <= 2048


@given(st.text(max_size=3000), st.integers(3, 3000))
def test_truncate_property(text: str, limit: int) -> None:
    out = truncate_utf8(text, limit)
    encoded = out.encode("utf-8")  # would raise on a lone surrogate half
    assert len(encoded) <= limit
    if len(text.encode("utf-8")) <= limit:
        assert out == text
    else:
        assert out.endswith("…") and text.startswith(out[:-1])

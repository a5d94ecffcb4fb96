"""The start-up check of the events topic's record limit (streams/record_limit.py) against
the dispatch agent's largest record (schemas/event_batch.py splits at MAX_BYTES)."""

from __future__ import annotations

from schemas.event_batch import MAX_BYTES
from streams.record_limit import NEEDED, problem


def test_kafkas_default_limit_takes_the_largest_record() -> None:
    assert problem(1_048_588) is None  # the broker's default message.max.bytes
    assert NEEDED > MAX_BYTES


def test_a_limit_below_the_largest_record_is_reported() -> None:
    why = problem(MAX_BYTES)
    assert why is not None and "max.message.bytes (500000)" in why

"""bench intake: with --compare the two APIs get the same share of requests, in rotating
order; each API's report has its answers' phases (Server-Timing) when it sent them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dispatcher.bench.intake import Shot, Side, side_for


def test_each_api_gets_an_equal_share_and_goes_first_in_turn() -> None:
    order = [side_for(i, 2) for i in range(8)]
    assert order == [0, 1, 1, 0, 0, 1, 1, 0]
    assert Counter(side_for(i, 3) for i in range(300)) == {0: 100, 1: 100, 2: 100}
    firsts = [side_for(r * 3, 3) for r in range(6)]
    assert sorted(set(firsts)) == [0, 1, 2]


def test_the_report_has_the_phases_of_the_answers_that_carried_them() -> None:
    proc: Any = None  # not read by the report
    side = Side("current", "http://t", proc)
    for i in range(100):  # answered 4 ms after the send, 3 of them timed in the API
        phases = {"statement": 1.0 + (i >= 50), "queue": 1.0, "total": 3.0}
        side.shots.append(Shot(scheduled=i, at=i, answered=i + 0.004, status=202, phases=phases))
    side.shots.append(Shot(scheduled=100, at=100, answered=100.1, status=401))
    report = side.report({"ms": 1.0})
    phases = report["phases"]
    assert list(phases) == ["statement", "queue", "total", "outside_app"]
    assert (phases["statement"]["p50_ms"], phases["statement"]["p99_ms"]) == (1.0, 2.0)
    assert phases["outside_app"]["p50_ms"] == pytest.approx(1.0)
    untimed = Side("baseline", "http://t", proc)
    untimed.shots.append(Shot(scheduled=0, at=0, answered=0.004, status=202))
    assert untimed.report({"ms": 1.0})["phases"] is None  # an API without Server-Timing

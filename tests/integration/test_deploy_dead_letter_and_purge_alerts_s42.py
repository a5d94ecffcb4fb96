"""promtool shows deploy/prometheus/alerts.yml pages (session 42's audit, F3 and F4):

- at the first dead letter after a worker starts. A letter is a command the worker could not
  apply (a help request's submit: acknowledged to its requester, never dispatched); until
  session 42 `DispatchDeadLetters` was `severity: ticket`, routed to Alertmanager's `default`,
  which notifies nobody (tests/unit/test_ops_deploy.py checks the routing).
- when no API's retention purge has succeeded for 3 h (`DispatchRetentionPurgeStale`, for
  10 m): before, a purge failing every hour was one WARNING line and no metric.

The dead-letter series is what a freshly started worker exports (its stats collector)
before and after one letter. Needs `apt-get install -y prometheus`.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from dispatcher.ops.worker_metrics import _StatsCollector
from streams.runtime import Stats
from tests.support.promtool import alert_rule, assert_rule_tests

HOUR = 3600
UP = [
    {"series": f'up{{job="{job}",instance="{job}:1"}}', "values": "1x300"}
    for job in ("dispatch-worker", "dispatch-api")
]


def _firing(alert: str) -> list[dict[str, object]]:
    return [
        {"exp_labels": {"severity": "page"}, "exp_annotations": alert_rule(alert)["annotations"]}
    ]


def test_the_first_dead_letter_after_a_start_pages(tmp_path: Path) -> None:
    stats = Stats()  # a worker just started
    registry = CollectorRegistry()
    registry.register(_StatsCollector(stats))
    before = registry.get_sample_value("dispatch_dead_letters_total")
    stats.dead_letters += 1  # what DeadLetterSink.send counts for one letter
    after = registry.get_sample_value("dispatch_dead_letters_total")
    assert (before, after) == (0, 1)
    series = {"series": "dispatch_dead_letters_total", "values": f"{before:g}x9 {after:g}x30"}
    case = {
        "interval": "1m",
        "input_series": [*UP, series],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "DispatchDeadLetters", "exp_alerts": []},
            {
                "eval_time": "11m",
                "alertname": "DispatchDeadLetters",
                "exp_alerts": _firing("DispatchDeadLetters"),
            },
        ],
    }
    assert_rule_tests(tmp_path, [case])


def _last_success(pod: str, values: list[int]) -> dict[str, str]:
    """One API pod's gauge, scraped every minute (promtool's time starts at 0)."""
    return {
        "series": "dispatch_retention_purge_last_success_timestamp_seconds"
        f'{{job="dispatch-api",instance="{pod}"}}',
        "values": " ".join(str(v) for v in values),
    }


def _hourly(hours: int) -> list[int]:
    """A purge succeeding every hour: the gauge moves to the top of each hour."""
    return [(i // 60) * HOUR for i in range(hours * 60 + 1)]


def _stale_case(series: list[dict[str, str]], quiet: str, fires: str | None) -> dict[str, object]:
    """No page at `quiet`; a page at `fires` and still at 5 h (None: none up to 5 h)."""
    checks = [(quiet, False), *([(fires, True), ("5h", True)] if fires else [("5h", False)])]
    alert = "DispatchRetentionPurgeStale"
    return {
        "interval": "1m",
        "input_series": [*UP, *series],
        "alert_rule_test": [
            {"eval_time": at, "alertname": alert, "exp_alerts": _firing(alert) if on else []}
            for at, on in checks
        ],
    }


def test_a_retention_purge_that_stops_succeeding_pages(tmp_path: Path) -> None:
    never = [0] * (5 * 60 + 1)  # started at 0, every purge since failed
    stopped = [min(v, HOUR) for v in _hourly(5)]  # last success at 1 h
    assert_rule_tests(
        tmp_path,
        [
            # Failing from its start: stale past 3 h, pending 10 m, then pages.
            _stale_case([_last_success("a:8080", never)], "3h9m", "3h12m"),
            # Succeeded at 1 h, then failing: stale past 4 h, pages from 4h11m.
            _stale_case([_last_success("a:8080", stopped)], "4h9m", "4h12m"),
            # Hourly successes: never.
            _stale_case([_last_success("a:8080", _hourly(5))], "3h", None),
            # One pod failing, the other purging the same database: not stale.
            _stale_case(
                [_last_success("a:8080", never), _last_success("b:8080", _hourly(5))], "3h", None
            ),
        ],
    )

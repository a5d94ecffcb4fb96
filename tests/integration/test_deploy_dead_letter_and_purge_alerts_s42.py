"""promtool shows deploy/prometheus/alerts.yml pages (session 42's audit, F3):

- at the first dead letter after a worker starts. A letter is a command the worker could not
  apply (a help request's submit: acknowledged to its requester, never dispatched); until
  session 42 `DispatchDeadLetters` was `severity: ticket`, routed to Alertmanager's `default`,
  which notifies nobody (tests/unit/test_ops_deploy.py checks the routing).

The dead-letter series is what a freshly started worker exports (its stats collector)
before and after one letter. Needs `apt-get install -y prometheus`.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from dispatcher.ops.worker_metrics import _StatsCollector
from streams.runtime import Stats
from tests.support.promtool import alert_rule, assert_rule_tests

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

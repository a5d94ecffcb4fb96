"""promtool shows deploy/prometheus/alerts.yml pages while the API's live configuration holds
a bot it does not serve (production: a Feishu bot stored without encrypt_key): the gauge
`dispatch_config_unserved_bots` (tests/unit/test_feishu_unsigned_readiness_s41.py) above 0
on any pod. The pods stay ready (every pod reads the same store), so no other alert shows
it. A count read a moment while a store is replayed (the bot unkeyed before the record that
keys it) does not page. Needs `apt-get install -y prometheus`.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.promtool import alert_rule, assert_rule_tests

ALERT = "DispatchConfigUnservedBots"


def _gauge(pod: str, values: str) -> dict[str, str]:
    return {
        "series": f'dispatch_config_unserved_bots{{job="dispatch-api",instance="{pod}"}}',
        "values": values,
    }


def _case(series: list[dict[str, str]], firing_value: str | None) -> dict[str, object]:
    """Both pods scraped for ten minutes with `series`; at 6 minutes the alert fires with
    the count `firing_value` in its summary (or does not fire); no pod is down."""
    annotations: dict[str, str] = alert_rule(ALERT)["annotations"]
    up = [
        {"series": f'up{{job="dispatch-api",instance="{pod}"}}', "values": "1x10"}
        for pod in ("a:8080", "b:8080")
    ]
    firing = []
    if firing_value is not None:
        rendered = {k: v.replace("{{ $value }}", firing_value) for k, v in annotations.items()}
        firing = [{"exp_labels": {"severity": "page"}, "exp_annotations": rendered}]
    return {
        "interval": "1m",
        "input_series": up + series,
        "alert_rule_test": [
            {"eval_time": "6m", "alertname": ALERT, "exp_alerts": firing},
            {"eval_time": "6m", "alertname": "DispatchApiDown", "exp_alerts": []},
        ],
    }


def test_a_stored_bot_that_is_not_served_pages(tmp_path: Path) -> None:
    assert_rule_tests(
        tmp_path,
        [
            # Every pod holds the same store: one bot, then two, not served.
            _case([_gauge("a:8080", "1x4 2x6"), _gauge("b:8080", "1x4 2x6")], "2"),
            # A pod started later counts it too; the other one's view is the same.
            _case([_gauge("a:8080", "1x10"), _gauge("b:8080", "_x3 1x7")], "1"),
            # Keyed: back to 0 before the evaluation; nothing pages.
            _case([_gauge("a:8080", "1x2 0x8"), _gauge("b:8080", "1x2 0x8")], None),
            # Counted for one scrape (at 6 m) while a store is replayed: pending, no page yet.
            _case([_gauge("a:8080", "0x5 1 0x4"), _gauge("b:8080", "0x10")], None),
            # Nothing unserved: no page.
            _case([_gauge("a:8080", "0x10"), _gauge("b:8080", "0x10")], None),
        ],
    )

"""promtool shows deploy/prometheus/alerts.yml pages when no API pod is ready.

Prometheus scrapes each API pod directly, so `up{job="dispatch-api"}` stays 1 while every
pod answers its readiness probe with 503 (Kafka or PostgreSQL down): DispatchApiDown never
fires. The API counts those probes itself (`dispatch_http_requests_total{route="/readyz"}`,
tests/unit/test_deploy_api_readiness_metric.py); DispatchApiNotReady pages when probes
arrive and none of any pod succeeds. Needs `apt-get install -y prometheus`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dispatcher.settings import REPO_ROOT

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT = "DispatchApiNotReady"


def _probes(pod: str, status: str, values: str) -> dict[str, str]:
    series = (
        f'dispatch_http_requests_total{{job="dispatch-api",instance="{pod}",method="GET",'
        f'route="/readyz",status="{status}"}}'
    )
    return {"series": series, "values": values}


def _annotations() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == ALERT]
    annotations: dict[str, str] = rule["annotations"]
    return annotations


def _case(series: list[dict[str, str]], fires: bool) -> dict[str, object]:
    """Both pods scraped (up 1) for ten minutes with `series`; at 6 minutes the alert
    fires (or not); the down alert never does."""
    up = [
        {"series": f'up{{job="dispatch-api",instance="{pod}"}}', "values": "1x10"}
        for pod in ("a:8080", "b:8080")
    ]
    firing = [{"exp_labels": {"severity": "page"}, "exp_annotations": _annotations()}]
    return {
        "interval": "1m",
        "input_series": up + series,
        "alert_rule_test": [
            {"eval_time": "6m", "alertname": ALERT, "exp_alerts": firing if fires else []},
            {"eval_time": "6m", "alertname": "DispatchApiDown", "exp_alerts": []},
        ],
    }


def test_no_ready_api_pod_pages(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    probing = "0+12x10"  # a probe every 5 s
    tests = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            # Kafka down: both pods' probes fail; their earlier successes stand still.
            _case(
                [
                    _probes("a:8080", "503", probing),
                    _probes("b:8080", "503", probing),
                    _probes("a:8080", "200", "40x10"),
                    _probes("b:8080", "200", "40x10"),
                ],
                fires=True,
            ),
            # Never ready since start: no 200 series at all.
            _case([_probes("a:8080", "503", probing)], fires=True),
            # One pod still ready: the Service sends traffic there; no page.
            _case(
                [_probes("a:8080", "503", probing), _probes("b:8080", "200", probing)],
                fires=False,
            ),
            # No probes counted at all: not this alert's to judge.
            _case([], fires=False),
        ],
    }
    path = tmp_path / "not_ready_test.yml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

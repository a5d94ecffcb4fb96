"""Run `promtool test rules` over deploy/prometheus/alerts.yml: does an alert fire on the
series a case gives it. Needs `apt-get install -y prometheus` (a missing promtool fails)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dispatcher.settings import REPO_ROOT

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"


def alert_rule(alert: str) -> dict[str, Any]:
    """The rule of `alert` in alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    found: dict[str, Any] = rule
    return found


def assert_rule_tests(tmp_path: Path, cases: list[dict[str, object]]) -> None:
    """promtool's test `cases` (each: interval, input_series, alert_rule_test) all pass."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    tests = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": cases}
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

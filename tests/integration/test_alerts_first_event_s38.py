"""promtool shows deploy/prometheus/alerts.yml pages at the first critical expiry and the
first records lost to retention after a worker starts, on the series as the worker exports
them (session 38's audit).

Both alerts read `increase(...) > 0`. prometheus_client makes a labelled child at its first
increment: the series appeared already at its first value and increase() over a series'
first sample is 0, so the first such event after a start paged nobody. The series fed to
promtool here are what a freshly started worker exports before the event (absent or 0) and
after it. Needs `apt-get install -y prometheus`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from faust.types import TP
from prometheus_client import CollectorRegistry

from dispatcher.ops import metrics as ops_metrics
from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from dispatcher.settings import REPO_ROOT, Settings
from schemas.vocab import Skill
from streams.app import create_faust_app
from streams.offsets import Lost
from tests.unit.conftest import World

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
SCRAPES_BEFORE, SCRAPES_AFTER = 10, 30  # one a minute; the event between them


def _annotations(alert: str) -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    annotations: dict[str, str] = rule["annotations"]
    return annotations


def _values(before: float | None, after: float | None) -> str:
    """promtool's notation of the scrapes: `before` (None: no such series yet) up to the
    event, `after` from then on."""
    first = "_" if before is None else f"{before:g}"
    assert after is not None
    return f"{first}x{SCRAPES_BEFORE - 1} {after:g}x{SCRAPES_AFTER}"


def _case(alert: str, series: str, values: str, labels: dict[str, str]) -> dict[str, object]:
    up = [
        {"series": f'up{{job="{job}"}}', "values": f"1x{SCRAPES_BEFORE + SCRAPES_AFTER}"}
        for job in ("dispatch-worker", "dispatch-api")
    ]
    firing = {"exp_labels": {"severity": "page", **labels}, "exp_annotations": _annotations(alert)}
    return {
        "interval": "1m",
        "input_series": [*up, {"series": series, "values": values}],
        "alert_rule_test": [
            {"eval_time": f"{SCRAPES_BEFORE - 1}m", "alertname": alert, "exp_alerts": []},
            {"eval_time": f"{SCRAPES_BEFORE + 1}m", "alertname": alert, "exp_alerts": [firing]},
        ],
    }


def _critical_expiry_case() -> dict[str, object]:
    registry = CollectorRegistry()  # a worker just started
    metrics = EventMetrics(DispatchMetrics.create(registry))
    labels = {"outcome": "expired", "urgency": "critical"}
    before = registry.get_sample_value("dispatch_requests_closed_total", labels)
    world = World()
    world.helper("d1", skills=[Skill.DRIVING])
    world.submit()
    for _ in range(40):
        if world.request().terminal:
            break
        world.tick()
    assert world.of_type("request_expired")
    metrics.observe_all(world.events)  # its first critical expiry
    after = registry.get_sample_value("dispatch_requests_closed_total", labels)
    series = 'dispatch_requests_closed_total{outcome="expired",urgency="critical"}'
    return _case("DispatchCriticalUnanswered", series, _values(before, after), labels)


async def _records_lost_case(tmp_path: Path) -> dict[str, object]:
    topic = "s38-alert.commands"
    settings = Settings(data_dir=tmp_path, commands_topic=topic, events_topic="s38-alert.events")
    consumer = create_faust_app(settings, "s38-alert").consumer  # the worker starting
    name, labels = "dispatch_records_lost_to_retention_total", {"topic": topic}
    before = ops_metrics.REGISTRY.get_sample_value(name, labels)
    await consumer._report_lost(TP(topic, 0), Lost(first=0, end=7))  # type: ignore[attr-defined]
    after = ops_metrics.REGISTRY.get_sample_value(name, labels)
    series = f'{name}{{topic="{topic}"}}'
    return _case("DispatchRecordsLostToRetention", series, _values(before, after), labels)


async def test_the_first_event_after_a_start_pages(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    tests = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [_critical_expiry_case(), await _records_lost_case(tmp_path)],
    }
    path = tmp_path / "first_event_test.yml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

"""The deployment files parse, and agree with the settings and the metrics they name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dispatcher.ops import api_metrics
from dispatcher.ops import metrics as worker_metrics
from dispatcher.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
YAML_FILES = sorted(
    p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and "local" not in p.parts
)
EXTRA_ENV = {"DISPATCH_BOTS_FILE"}  # read by dispatcher.groupchat.bots, not the settings object


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs, f"{path} is empty"


def test_grafana_dashboard_is_json() -> None:
    doc = json.loads((DEPLOY / "grafana/dashboards/dispatch.json").read_text(encoding="utf-8"))
    assert doc["uid"] and doc["panels"]
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])


def test_every_dispatch_variable_is_a_setting() -> None:
    known = {f"DISPATCH_{name.upper()}" for name in Settings.model_fields} | EXTRA_ENV
    seen: set[str] = set()
    for path in [*YAML_FILES, DEPLOY / "Dockerfile", DEPLOY / "compose/.env.example"]:
        seen |= set(re.findall(r"\bDISPATCH_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    assert seen, "no settings named at all"
    assert seen <= known, f"unknown settings: {sorted(seen - known)}"


def _exposed_names() -> set[str]:
    names: set[str] = set()
    for registry in (worker_metrics.REGISTRY, api_metrics.REGISTRY):
        for family in registry.collect():
            names.add(family.name)
    # Collected only on the worker: its state-derived families.
    names |= {
        "dispatch_open_requests",
        "dispatch_commands_processed",
        "dispatch_events_emitted",
        "dispatch_events_recorded",
        "dispatch_dead_letters",
    }
    return names


def test_dashboard_and_alerts_name_real_metrics() -> None:
    text = (DEPLOY / "grafana/dashboards/dispatch.json").read_text(encoding="utf-8")
    text += (DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\bdispatch_[a-z_]+", text))
    base = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    unknown = base - _exposed_names() - {"dispatch_prometheus"}  # a datasource uid
    assert not unknown, f"dashboard or alerts use metrics nobody exposes: {sorted(unknown)}"


def test_compose_and_scrape_config_agree() -> None:
    compose = yaml.safe_load((DEPLOY / "compose/compose.yaml").read_text(encoding="utf-8"))
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {j["job_name"]: j for j in scrape["scrape_configs"]}
    assert set(jobs) == {"dispatch-worker", "dispatch-api"}
    for job in jobs.values():
        for target in job["static_configs"][0]["targets"]:
            service, _, port = target.partition(":")
            assert service in compose["services"], target
            if service.startswith("worker"):
                assert "--web-port" in compose["services"][service]["command"]
                assert port in compose["services"][service]["command"]
    assert set(compose["volumes"]) >= {"kafka-data", "pg-data", "prom-data"}

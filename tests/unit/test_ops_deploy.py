"""The deployment files parse, and agree with the settings and the metrics they name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


def _k8s(name: str) -> list[dict[str, Any]]:
    text = (DEPLOY / "k8s" / name).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def _config_env() -> dict[str, str]:
    (config,) = [d for d in _k8s("config.yaml") if d["kind"] == "ConfigMap"]
    data: dict[str, str] = config["data"]
    return data


def test_only_the_worker_reads_topic_configs_and_only_the_events_topic() -> None:
    """streams/record_limit.py reads the events topic's max.message.bytes at the worker's
    start: without DescribeConfigs there the check is skipped ("not checked"). Read only:
    no user may alter a config, and none reads another topic's."""
    events = _config_env().get("DISPATCH_EVENTS_TOPIC", Settings().events_topic)
    users = {
        u["metadata"]["name"]: u for u in _k8s("kafka-strimzi.yaml") if u["kind"] == "KafkaUser"
    }
    reads = {
        (name, acl["resource"]["type"], acl["resource"]["name"])
        for name, user in users.items()
        for acl in user["spec"]["authorization"]["acls"]
        if "DescribeConfigs" in acl["operations"]
    }
    assert reads == {("dispatch-worker", "topic", events)}
    for user in users.values():
        for acl in user["spec"]["authorization"]["acls"]:
            assert not {"AlterConfigs", "All", "Alter"} & set(acl["operations"]), acl


def test_worker_tables_live_on_a_claim_per_pod() -> None:
    """A pod replaced (deleted, or drained off a node) keeps its RocksDB tables
    (DISPATCH_DATA_DIR) and replays only the changelog tail; an emptyDir rebuilt every table
    from scratch."""
    (sts,) = [d for d in _k8s("worker.yaml") if d["kind"] == "StatefulSet"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    name = claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]  # the cluster's default
    assert claim["spec"]["resources"]["requests"]["storage"]
    pod = sts["spec"]["template"]["spec"]
    assert name not in {v["name"] for v in pod["volumes"]}  # not shadowed by a pod volume
    (worker,) = [c for c in pod["containers"] if c["name"] == "worker"]
    (mount,) = [m for m in worker["volumeMounts"] if m["name"] == name]
    assert mount["mountPath"] == _config_env()["DISPATCH_DATA_DIR"]
    # A cache of this Kafka cluster's changelogs: gone with the StatefulSet or a scale-down.
    policy = sts["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Delete", "whenScaled": "Delete"}


def test_a_node_drain_waits_for_each_worker_to_serve() -> None:
    """Readiness is the worker's /readyz (its generation's tables recovered: streams/web.py),
    liveness the static /healthz on the same port; before, readiness was /healthz, which
    answers from before recovery, so a rollout (a drain since the StatefulSet is OnDelete)
    stopped the next worker mid-recovery."""
    (sts,) = [d for d in _k8s("worker.yaml") if d["kind"] == "StatefulSet"]
    (worker,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "worker"]
    (port,) = [p["name"] for p in worker["ports"]]
    probes = {k: worker[k]["httpGet"] for k in ("readinessProbe", "livenessProbe", "startupProbe")}
    assert probes["readinessProbe"] == {"path": "/readyz", "port": port}
    assert probes["livenessProbe"] == probes["startupProbe"] == {"path": "/healthz", "port": port}


def test_an_api_with_no_ready_pod_pages() -> None:
    """Prometheus scrapes the API's pods directly, so `up` stays 1 while /readyz says 503
    (Kafka or PostgreSQL down): the readiness probes the API counts must page."""
    groups = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8"))
    (rule,) = [
        r for g in groups["groups"] for r in g["rules"] if r.get("alert") == "DispatchApiNotReady"
    ]
    assert rule["labels"]["severity"] == "page"
    assert 'route="/readyz"' in rule["expr"] and 'status="200"' in rule["expr"]


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "compose/compose.yaml").read_text(encoding="utf-8")
    )
    return doc


def test_prometheus_sends_alerts_to_compose_alertmanager() -> None:
    """Prometheus sends firing alerts only to the Alertmanagers of its `alerting` block;
    before session 38 prometheus.yml had none and compose ran none, so every page went
    nowhere. Each target is a compose service running Alertmanager, on the port it serves."""
    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    targets = [
        target
        for manager in prometheus.get("alerting", {}).get("alertmanagers", [])
        for static in manager.get("static_configs", [])
        for target in static["targets"]
    ]
    assert targets, "prometheus.yml names no Alertmanager: alerts go nowhere"
    services = _compose()["services"]
    for target in targets:
        service, _, port = target.partition(":")
        assert service in services, f"{target}: no such compose service"
        assert services[service]["image"].startswith("prom/alertmanager:v"), target
        assert port == "9093", target  # Alertmanager's default --web.listen-address
    assert "alertmanager" in services["prometheus"].get("depends_on", [])


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    """One Alertmanager equality matcher (`name="value"` or `name=value`); the only
    form deploy/alertmanager/alertmanager.yml uses (anything else fails here)."""
    found = re.fullmatch(r'\s*(\w+)\s*=\s*"?([^"=~!]*)"?\s*', matcher)
    assert found, f"unsupported matcher {matcher!r}"
    return labels.get(found[1]) == found[2]


def _receiver_for(route: dict[str, Any], labels: dict[str, str]) -> str:
    """Alertmanager's routing without `continue`: the first child whose matchers all
    match decides (recursively), else the route's own receiver."""
    for child in route.get("routes", []):
        assert not child.get("continue"), "routing with continue: not modelled"
        if all(_matches(m, labels) for m in child.get("matchers", [])):
            return _receiver_for({"receiver": route["receiver"], **child}, labels)
    receiver: str = route["receiver"]
    return receiver


def test_pages_go_to_the_operators_webhook_and_the_rest_to_default() -> None:
    """alertmanager.yml: every receiver a route names exists; each alert of alerts.yml with
    `severity: page` reaches the `page` receiver, whose webhook URL is read from the file
    compose's secret puts there, made from ALERTMANAGER_PAGE_WEBHOOK_URL, which compose
    requires and .env.example lists; the others (tickets) reach `default`. Compose mounts
    the config where the service's --config.file reads it."""
    config = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text(encoding="utf-8"))
    receivers = {r["name"]: r for r in config["receivers"]}
    assert len(receivers) == len(config["receivers"]), "duplicate receiver names"

    def named(route: dict[str, Any]) -> list[str]:
        names = [route["receiver"]] if "receiver" in route else []
        return names + [n for child in route.get("routes", []) for n in named(child)]

    assert set(named(config["route"])) <= set(receivers)
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8"))
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    severities = {a["alert"]: a["labels"]["severity"] for a in alerts}
    assert "page" in severities.values()
    for alert, severity in severities.items():
        labels = {"alertname": alert, "severity": severity}
        expected = "page" if severity == "page" else "default"
        assert _receiver_for(config["route"], labels) == expected, alert

    (webhook,) = receivers["page"]["webhook_configs"]
    compose = _compose()
    service = compose["services"]["alertmanager"]
    mounts = dict(v.split(":")[:2][::-1] for v in service["volumes"] if v.startswith("."))
    config_file = next(a.split("=", 1)[1] for a in service["command"] if "--config.file=" in a)
    assert (DEPLOY / "compose" / mounts[config_file]).resolve() == (
        DEPLOY / "alertmanager/alertmanager.yml"
    )
    secrets = {f"/run/secrets/{name}": name for name in service["secrets"]}
    assert webhook["url_file"] in secrets, "compose gives Alertmanager no such file"
    variable = compose["secrets"][secrets[webhook["url_file"]]]["environment"]
    assert variable == "ALERTMANAGER_PAGE_WEBHOOK_URL"
    text = (DEPLOY / "compose/compose.yaml").read_text(encoding="utf-8")
    assert f"${{{variable}:?" in text, "compose must refuse to start without the webhook"
    example = (DEPLOY / "compose/.env.example").read_text(encoding="utf-8")
    assert re.search(rf"^{variable}=https://", example, re.M)


def test_every_alert_reaches_a_receiver_that_notifies() -> None:
    """Each alert of alerts.yml is routed to a receiver with a notifier (`*_configs`).
    Before session 42 `DispatchDeadLetters` (a help request's submit never applied: an
    acknowledged request never dispatched) was `severity: ticket`, routed to `default`,
    which has none: it reached nobody."""
    config = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text(encoding="utf-8"))
    receivers = {r["name"]: r for r in config["receivers"]}
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8"))
    silent = []
    for rule in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
        labels = {"alertname": rule["alert"], **rule.get("labels", {})}
        receiver = receivers[_receiver_for(config["route"], labels)]
        if not [k for k, v in receiver.items() if k.endswith("_configs") and v]:
            silent.append(f"{rule['alert']} -> {receiver['name']}")
    assert not silent, f"alerts that notify nobody: {silent}"

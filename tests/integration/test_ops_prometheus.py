"""Debian's Prometheus scrapes the real worker and API with deploy/prometheus's config,
proving the jobs, paths, scrape auth and exposition format are right, and the alert rules
load; promtool shows the down alerts fire.

Only targets and intervals change for loopback. Every file the config reads is looked up
where compose's prometheus service gets it (its bind mounts and secrets, realised under a
temporary directory): a path compose does not provide fails the test, as it would leave
the target down in the deployment.

Needs `apt-get install -y prometheus` (see deploy/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack, free_port
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
DEPLOY = REPO_ROOT / "deploy" / "prometheus"
COMPOSE = REPO_ROOT / "deploy" / "compose"
METRICS_TOKEN = "dev-only-metrics-token"  # the stack's API (dev settings)


def _secret_target(entry: str | dict[str, str]) -> tuple[str, str]:
    """(secret, path in the container) of a service's `secrets:` entry (compose spec:
    /run/secrets/<source> unless `target` says otherwise)."""
    if isinstance(entry, str):
        return entry, f"/run/secrets/{entry}"
    target = entry.get("target", entry["source"])
    return entry["source"], target if target.startswith("/") else f"/run/secrets/{target}"


def compose_prometheus_files(tmp: Path) -> dict[str, Path]:
    """Container path → a local file with what compose's prometheus service finds there:
    its bind mounts, and its secrets (an `environment` secret holds that variable of the
    operator's .env, which must be the one the API takes its metrics token from)."""
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["prometheus"]
    files: dict[str, Path] = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            files[target] = (COMPOSE / source).resolve()
    api_token = compose["services"]["api"]["environment"]["DISPATCH_METRICS_TOKEN"]
    for entry in service.get("secrets", []):
        name, target = _secret_target(entry)
        variable = compose["secrets"][name]["environment"]
        assert api_token.startswith(f"${{{variable}"), f"{name} is not the API's token"
        path = tmp / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(METRICS_TOKEN, encoding="utf-8")
        files[target] = path
    return files


def local_config(tmp: Path, worker: str, api: str, alertmanager: str | None = None) -> Path:
    """prometheus.yml with loopback targets (and `alertmanager` for every Alertmanager of
    its `alerting` block, when given), every file it reads as compose provides it."""
    doc = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    doc["global"]["scrape_interval"] = "1s"
    doc["global"]["evaluation_interval"] = "1s"
    files = compose_prometheus_files(tmp)

    def provided(path: str) -> str:
        assert path in files, f"prometheus.yml reads {path}; compose gives Prometheus none"
        return str(files[path])

    doc["rule_files"] = [provided(p) for p in doc["rule_files"]]
    targets = {"dispatch-worker": [worker], "dispatch-api": [api]}
    for job in doc["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        if "authorization" in job:  # the API's /metrics needs the metrics token
            auth = job["authorization"]
            auth["credentials_file"] = provided(auth["credentials_file"])
    if alertmanager is not None:
        managers = doc.get("alerting", {}).get("alertmanagers", [])
        assert managers, "prometheus.yml sends alerts to no Alertmanager"
        for manager in managers:
            manager["static_configs"] = [{"targets": [alertmanager]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def start_prometheus(
    prometheus: str, config: Path, tmp_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Prometheus on a free loopback port with `config`, its data and log under tmp_path."""
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return proc, port


async def test_prometheus_scrapes_worker_and_api(stack: LocalStack, tmp_path: Path) -> None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    worker_port = free_port()
    stack.spawn("worker-1", "worker", "--name", "worker-1", "--web-port", str(worker_port))
    await stack.start_api()
    config = local_config(tmp_path, f"127.0.0.1:{worker_port}", f"127.0.0.1:{stack.api_port}")
    check = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proc, port = start_prometheus(prometheus, config, tmp_path)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                f"{stack.api_url}/v1/requests", json=builders.request("prom"), headers=STAFF
            )
            assert r.status_code == 202, r.text
            base = f"http://127.0.0.1:{port}/api/v1"

            async def targets_up() -> dict[str, str] | None:
                try:
                    r = await client.get(f"{base}/targets")
                    active = r.json()["data"]["activeTargets"]
                except (httpx.HTTPError, ValueError, KeyError):
                    return None  # Prometheus still starting (it answers in plain text then)
                health = {t["labels"]["job"]: t["health"] for t in active}
                return health if health and set(health.values()) == {"up"} else None

            health = await eventually(targets_up, what="both scrape targets up")
            assert set(health) == {"dispatch-worker", "dispatch-api"}

            async def query(expr: str) -> float | None:
                r = await client.get(f"{base}/query", params={"query": expr})
                result = r.json()["data"]["result"]
                return float(result[0]["value"][1]) if result else None

            opened = await eventually(
                lambda: query('sum(dispatch_requests_opened_total{job="dispatch-worker"})'),
                what="the worker's request counter in Prometheus",
            )
            assert opened == 1
            posts = await eventually(
                lambda: query(
                    'sum(dispatch_http_requests_total{job="dispatch-api",route="/v1/requests"})'
                ),
                what="the API's HTTP counter in Prometheus",
            )
            assert posts >= 1
            rules = (await client.get(f"{base}/rules")).json()["data"]["groups"]
            assert rules and rules[0]["name"] == "dispatch"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


DOWN_ALERTS = {"dispatch-api": "DispatchApiDown", "dispatch-worker": "DispatchWorkerDown"}


def _annotations(alert: str) -> dict[str, str]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    annotations: dict[str, str] = rule["annotations"]
    return annotations


def _down_case(job: str, series: list[str], labels: dict[str, str]) -> dict[str, object]:
    """promtool's test case: `series` (the other job's target up) for five minutes; at 3
    minutes `job`'s down alert fires with `labels`, the other job's does not."""
    (other,) = set(DOWN_ALERTS) - {job}
    up = [{"series": f'up{{job="{other}",instance="fine:1"}}', "values": "1x5"}]
    up += [{"series": s, "values": "0x5"} for s in series]
    firing = {"exp_labels": {"severity": "page", **labels}}
    firing["exp_annotations"] = _annotations(DOWN_ALERTS[job])
    return {
        "interval": "1m",
        "input_series": up,
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": DOWN_ALERTS[job], "exp_alerts": [firing]},
            {"eval_time": "3m", "alertname": DOWN_ALERTS[other], "exp_alerts": []},
        ],
    }


@pytest.mark.parametrize("job", sorted(DOWN_ALERTS))
def test_a_target_down_or_missing_pages(job: str, tmp_path: Path) -> None:
    """A target that fails its scrape (down, or /metrics refusing the token: up == 0) and
    a job with no target at all both page, per job."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    down = f'up{{job="{job}",instance="down:1"}}'
    tests = {
        "rule_files": [str(DEPLOY / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [
            _down_case(job, [down], {"job": job, "instance": "down:1"}),
            _down_case(job, [], {"job": job}),  # absent
        ],
    }
    path = tmp_path / "down_test.yml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_firing_page_reaches_the_alertmanager(tmp_path: Path) -> None:
    """Prometheus with prometheus.yml, its scrape targets down, sends the page alerts it
    fires to the Alertmanager of its `alerting` block (here a loopback stand-in for
    compose's, recording what it is sent). Before session 38 the config had no `alerting`:
    Prometheus listed no Alertmanager and every page stayed inside Prometheus. alerts.yml
    is loaded without its `for:` delays, so the down alerts fire at the first evaluation."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("Prometheus is missing: apt-get install -y prometheus")
    received: list[dict[str, Any]] = []

    async def alerts(request: web.Request) -> web.Response:
        received.extend(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    am_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", am_port).start()
    nobody = f"127.0.0.1:{free_port()}"  # held by this process, never listened on: down
    config = local_config(tmp_path, nobody, nobody, alertmanager=f"127.0.0.1:{am_port}")
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    (rules_file,) = doc["rule_files"]
    rules = yaml.safe_load(Path(rules_file).read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    prompt = tmp_path / "alerts-prompt.yml"
    prompt.write_text(yaml.safe_dump(rules), encoding="utf-8")
    doc["rule_files"] = [str(prompt)]
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    proc, port = start_prometheus(prometheus, config, tmp_path)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            base = f"http://127.0.0.1:{port}/api/v1"

            async def active() -> list[str] | None:
                try:
                    r = await client.get(f"{base}/alertmanagers")
                    managers = r.json()["data"]["activeAlertmanagers"]
                except (httpx.HTTPError, ValueError, KeyError):
                    return None  # Prometheus still starting
                return [m["url"] for m in managers] or None

            urls = await eventually(
                active,
                what="an active Alertmanager in Prometheus",
                explain=lambda: (tmp_path / "prometheus.log").read_text(errors="replace"),
            )
            assert urls == [f"http://127.0.0.1:{am_port}/api/v2/alerts"]

            async def paged() -> set[str] | None:
                names = {
                    a["labels"]["alertname"]
                    for a in received
                    if a["labels"].get("severity") == "page"
                }
                return names if set(DOWN_ALERTS.values()) <= names else None

            names = await eventually(paged, what="the down pages at the Alertmanager")
            assert set(DOWN_ALERTS.values()) <= names
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        await runner.cleanup()

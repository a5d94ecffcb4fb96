"""Debian's Prometheus scrapes the real worker and API with deploy/prometheus's config
(only targets, intervals and the rules path changed for loopback), proving the jobs,
paths and exposition format are right, and the alert rules load.

Needs `apt-get install -y prometheus` (see deploy/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack, free_port
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
DEPLOY = REPO_ROOT / "deploy" / "prometheus"


def local_config(tmp: Path, worker: str, api: str) -> Path:
    doc = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    doc["global"]["scrape_interval"] = "1s"
    doc["global"]["evaluation_interval"] = "1s"
    doc["rule_files"] = [str(DEPLOY / "alerts.yml")]
    targets = {"dispatch-worker": [worker], "dispatch-api": [api]}
    token = tmp / "dispatch-metrics-token"  # the API's /metrics needs the metrics token
    token.write_text("dev-only-metrics-token", encoding="utf-8")
    for job in doc["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


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

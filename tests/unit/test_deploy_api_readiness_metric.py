"""The series deploy/prometheus/alerts.yml's DispatchApiNotReady reads: the API counts
its own /readyz answers (the kubelet's and compose's readiness probes) under
`dispatch_http_requests_total{route="/readyz",status=...}`, so a 503 from every pod shows
while `up` stays 1. Kafka and PostgreSQL are fakes that refuse (a unit test)."""

from __future__ import annotations

import asyncpg
import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.ops import api_metrics
from dispatcher.settings import Settings


class DownSink:
    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise ConnectionError("broker down")

    async def check(self) -> None:
        raise ConnectionError("broker down")


class DownDeps(ApiDeps):
    async def pool(self) -> asyncpg.Pool:
        raise OSError("database down")


def _probes(status: str) -> float:
    labels = {"method": "GET", "route": "/readyz", "status": status}
    return api_metrics.REGISTRY.get_sample_value("dispatch_http_requests_total", labels) or 0.0


async def test_an_unready_api_counts_its_failed_readiness_probes() -> None:
    settings = Settings()
    app = create_app(settings, DownDeps(settings=settings, sink=DownSink()))
    before = _probes("503")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api:8080") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["kafka"].startswith("unavailable")
    assert _probes("503") == before + 1

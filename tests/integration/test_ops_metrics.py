"""A request's whole life through the real parts, then scrape the API's and the worker's
/metrics, read the dashboard snapshot and the month report.

Needs the hook lines in streams/web.py and streams/record_agent.py (install_worker_metrics,
observe_events) and dispatcher/api/command_queue.py (observe_request_submitted): see
deploy/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from dispatcher.testing.stack import LocalStack, free_port
from schemas.commands import (
    AcceptOffer,
    CommandBody,
    CompleteAssignment,
    DeclineOffer,
)
from tests.support import builders, worker_metrics
from tests.support.local_day import one_local_day
from tests.support.waiting import eventually
from tests.support.worker_metrics import get, once_resolved, samples

COMMUNITY = "ops-metrics"
STAFF = {"Authorization": "Bearer dev-staff-token"}
METRICS = {"Authorization": "Bearer dev-only-metrics-token"}
MODULE_SPAN_S = 300


@dataclass
class Lifecycle:
    request_id: str
    worker_url: str


async def send(stack: LocalStack, producer: AIOKafkaProducer, body: CommandBody) -> None:
    await worker_metrics.send(stack, producer, COMMUNITY, body)


@pytest.fixture(scope="module")
async def lifecycle(stack: LocalStack) -> AsyncIterator[Lifecycle]:
    # The dashboard's "today" and the month report read the request's day and month: the
    # module's timeline (this lifecycle to the last test, well under a minute) kept in one.
    await one_local_day(MODULE_SPAN_S)
    web_port = free_port()
    stack.spawn("worker-1", "worker", "--name", "worker-1", "--web-port", str(web_port))
    await stack.start_api()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
            for hid in ("m-d1", "m-d2"):
                r = await api.put(
                    f"/v1/admin/helpers/{hid}",
                    json=builders.helper(hid, COMMUNITY, ["driving"]),
                    headers=STAFF,
                )
                assert r.status_code == 202, r.text
            r = await api.post("/v1/requests", json=builders.request(COMMUNITY), headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

            async def offers() -> dict[str, str] | None:
                rows = await conn.fetch(
                    "SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid
                )
                return {r["helper_id"]: r["offer_id"] for r in rows} if len(rows) == 2 else None

            offer = await eventually(offers, what="two offers recorded")
            await send(
                stack,
                producer,
                DeclineOffer(request_id=rid, offer_id=offer["m-d1"], helper_id="m-d1"),
            )
            await send(
                stack,
                producer,
                AcceptOffer(request_id=rid, offer_id=offer["m-d2"], helper_id="m-d2"),
            )

            async def assigned() -> bool:
                return bool(
                    await conn.fetchval(
                        "SELECT first_accept_at IS NOT NULL FROM requests WHERE request_id = $1",
                        rid,
                    )
                )

            await eventually(assigned, what="the accept recorded")
            # The helper's "done" (30 minutes given) resolves it: every slot done.
            await send(
                stack,
                producer,
                CompleteAssignment(request_id=rid, helper_id="m-d2", minutes=30),
            )

            async def resolved() -> bool:
                return (
                    await conn.fetchval("SELECT outcome FROM requests WHERE request_id = $1", rid)
                ) == "resolved"

            await eventually(resolved, what="the request resolved")
        yield Lifecycle(rid, f"http://127.0.0.1:{web_port}")
    finally:
        await conn.close()
        await producer.stop()


async def test_api_metrics_count_http_and_intake(stack: LocalStack, lifecycle: Lifecycle) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        r = await api.get("/metrics", headers=METRICS)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)
    assert (
        get(m, "dispatch_http_requests_total", method="POST", route="/v1/requests", status="202")
        == 1
    )
    assert get(m, "dispatch_http_requests_total", route="/v1/admin/helpers/{helper_id}") == 2
    assert get(m, "dispatch_http_request_duration_seconds_count", route="/v1/requests") == 1
    # Hook: dispatcher/api/command_queue.py _queue -> observe_request_submitted(spec).
    assert (
        get(
            m,
            "dispatch_api_requests_submitted_total",
            category="hospital_transport",
            urgency="critical",
            source="bot",
        )
        == 1
    )
    assert "13912345678" not in r.text and "王女士" not in r.text


async def test_worker_metrics_moved_through_the_lifecycle(lifecycle: Lifecycle) -> None:
    m = await once_resolved(
        f"{lifecycle.worker_url}/metrics", "the resolution counted by the worker"
    )
    crit = {"urgency": "critical"}
    assert get(m, "dispatch_requests_opened_total", category="hospital_transport", **crit) == 1
    assert get(m, "dispatch_offers_sent_total", **crit) == 2
    assert get(m, "dispatch_offer_answers_total", answer="declined") == 1
    assert get(m, "dispatch_offer_answers_total", answer="accepted") == 1
    assert get(m, "dispatch_requests_answered_total", **crit) == 1
    assert get(m, "dispatch_emergency_calls_advised_total", number="120") == 1
    assert get(m, "dispatch_time_to_first_offer_seconds_count", **crit) == 1
    assert get(m, "dispatch_time_to_first_accept_seconds_count", **crit) == 1
    assert 0 < get(m, "dispatch_time_to_first_accept_seconds_sum", **crit) < 120
    assert get(m, "dispatch_time_to_first_accept_seconds_bucket", le="+Inf", **crit) == 1
    assert get(m, "dispatch_requests_closed_total", outcome="resolved", **crit) == 1
    assert get(m, "dispatch_open_requests") == 0  # resolved: nothing open in its partition
    # The worker's own counters, consumer lag per partition and Faust's sensor, one page.
    assert get(m, "dispatch_commands_processed_total") >= 6  # 2 helpers, submit, 2 answers, resolve
    assert get(m, "dispatch_dead_letters_total") == 0
    lag_topics = {dict(ls)["topic"] for (n, ls) in m if n == "dispatch_consumer_lag_messages"}
    assert any(t.endswith(".commands") for t in lag_topics), lag_topics
    assert any(n.startswith("dispatch_faust_") for (n, _) in m)


async def test_dashboard_snapshot_shows_the_request_without_personal_data(
    stack: LocalStack, lifecycle: Lifecycle
) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        assert (await api.get("/ops/v1/overview")).status_code == 401
        r = await api.get("/ops/v1/overview", headers=STAFF)
    assert r.status_code == 200, r.text
    data = r.json()
    row = next(x for x in data["recent_closed"] if x["request_id"] == lifecycle.request_id)
    assert row["outcome"] == "resolved" and row["helpers_assigned"] == 1
    community = next(c for c in data["communities"] if c["community_id"] == COMMUNITY)
    assert community["requests"] == 1 and community["answered_rate"] == 1.0
    assert data["today"]["ttfa_p50"] is not None
    # The address is "3号楼2单元501": look for its private part, not the bare "501", which
    # a request id, a timestamp or a latency in the snapshot contains by chance.
    for secret in ("13912345678", "王女士", "2单元501", "身体不舒服"):
        assert secret not in r.text


async def test_month_report_json_csv_and_cli(stack: LocalStack, lifecycle: Lifecycle) -> None:
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        r = await api.get(f"/ops/v1/reports/{COMMUNITY}/{month}", headers=STAFF)
        assert r.status_code == 200, r.text
        report = r.json()
        csv_r = await api.get(
            f"/ops/v1/reports/{COMMUNITY}/{month}", params={"format": "csv"}, headers=STAFF
        )
        hours = await api.get(
            f"/ops/v1/reports/{COMMUNITY}/{month}",
            params={"format": "csv", "table": "helpers"},
            headers=STAFF,
        )
        assert (
            await api.get(f"/ops/v1/reports/{COMMUNITY}/2026-13", headers=STAFF)
        ).status_code == 422
    total = report["total"]
    assert total["requests"] == 1 and total["answered"] == 1 and total["resolved"] == 1
    assert total["answered_rate"] == 1.0 and total["ttfa_median_s"] is not None
    assert [h["helper_id"] for h in report["helpers"]] == ["m-d2"]
    assert report["helpers"][0]["assignments"] == 1
    assert report["helpers"][0]["service_hours"] == 0.5  # the 30 minutes given at "done"
    lines = csv_r.text.splitlines()
    assert lines[0].startswith("\ufeffcommunity_id,day,requests,answered,answered_rate")
    assert lines[-1].startswith(f"{COMMUNITY},{month},1,1,1.0")
    assert hours.text.splitlines()[1] == f"{COMMUNITY},{month},m-d2,1,0.5"

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dispatcher.ops.report_cli",
            "--community",
            COMMUNITY,
            "--month",
            month,
            "--csv",
        ],
        env=stack.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == csv_r.text

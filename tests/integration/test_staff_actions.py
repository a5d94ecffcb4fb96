"""Staff actions through the real stack: each is a command on Kafka (the worker applies it
and records its event, caused by that command), a `staff_actions` audit row naming the
account, and its effect in GET /v1/requests/{id}. And the stream-health view the
dashboard's charts draw, read from the broker and the worker."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.kafka import CommandProducer
from tests.support.staff import (
    DISTRICT,
    bearer,
    recorded_request,
    status_of,
    write_staff_file,
)
from tests.support.waiting import eventually

A = "sa-a"
LI = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    worker = stack.start_worker()
    write_staff_file(stack, {"li": (LI, [A])})
    stack.extra_env["DISPATCH_WORKER_WEB_URLS"] = json.dumps(
        [f"http://127.0.0.1:{worker.web_port}"]
    )
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as c:
        r = await c.put(
            "/v1/admin/helpers/sa-d1",
            json=builders.helper("sa-d1", A, ["driving"]),
            headers=bearer(DISTRICT),
        )
        assert r.status_code == 202, r.text
    yield stack


async def _acted(
    db: asyncpg.Connection, command_id: str, event_type: str
) -> tuple[dict[str, Any], str]:
    """The audit row and the recorded event the command caused (it went through Kafka)."""
    event = await eventually(
        lambda: db.fetchval(
            "SELECT type FROM event_log WHERE caused_by = $1 AND type = $2", command_id, event_type
        ),
        what=f"{event_type} caused by {command_id}",
    )
    row = await db.fetchrow("SELECT * FROM staff_actions WHERE command_id = $1", command_id)
    assert row is not None
    return dict(row), event


async def test_claim_refer_resolve_cancel(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rids = [await recorded_request(client, A) for _ in range(4)]
    actions = [
        ("claim", {}, "request_claimed"),
        ("refer", {"to": "department", "department": "城管"}, "request_referred"),
        ("resolve", {"note": "已电话确认"}, "request_resolved"),
        ("cancel", {}, "request_cancelled"),
    ]
    for rid, (action, body, event_type) in zip(rids, actions, strict=True):
        r = await client.post(f"/ops/v1/requests/{rid}/{action}", json=body, headers=bearer(LI))
        assert r.status_code == 202, r.text
        command_id = r.json()["command_id"]
        row, _ = await _acted(db, command_id, event_type)
        assert (row["actor"], row["action"], row["request_id"]) == ("li", action, rid)
        assert (row["community_id"], row["via"], row["queued"]) == (A, "api", True)
        assert LI not in json.dumps({k: str(v) for k, v in row.items()})  # never the token

    async def effects() -> list[dict[str, Any]]:
        got = [await status_of(client, rid) for rid in rids]
        return got if got[3]["status"] == "cancelled" and got[0]["claimed_by"] else []

    claimed, referred, resolved, cancelled = await eventually(effects, what="the effects")
    assert claimed["claimed_by"] == "li" and claimed["claimed_at"] and claimed["status"] == "open"
    assert (referred["status"], referred["referred_to"], referred["referred_department"]) == (
        "referred",
        "department",
        "城管",
    )
    assert resolved["status"] == "resolved"
    assert cancelled["status"] == "cancelled"
    row = await db.fetchrow("SELECT detail FROM staff_actions WHERE action = 'refer'")
    assert row["detail"] == "department:城管"
    # A second claim by someone else loses: the first stays, the core says why.
    r = await client.post(f"/ops/v1/requests/{rids[0]}/claim", headers=bearer(DISTRICT))
    assert r.status_code == 202
    await _acted(db, r.json()["command_id"], "command_rejected")
    assert (await status_of(client, rids[0]))["claimed_by"] == "li"


async def test_the_stream_health_view(api: LocalStack, client: httpx.AsyncClient) -> None:
    await recorded_request(client, A)
    first = await client.get("/ops/v1/health", headers=bearer(DISTRICT))
    assert first.status_code == 200, first.text
    await asyncio.sleep(2.5)  # a second sample: rates need two (the view samples ≤ 1 per 2 s)
    await recorded_request(client, A)

    async def health() -> dict[str, Any]:
        r = await client.get("/ops/v1/health", headers=bearer(DISTRICT))
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc

    async def sampled() -> dict[str, Any] | None:
        doc = await health()
        return doc if doc["rates"] else None

    view = await eventually(sampled, what="two samples")
    commands = api.topic("commands")

    def commands_lag(doc: dict[str, Any]) -> list[dict[str, Any]]:
        return [x for x in doc["lag"] if x["group"] == api.app_id and x["topic"] == commands]

    lag = commands_lag(view)
    # Every partition is drawn; one the worker never committed on has no committed offset.
    assert len(lag) == api.partitions
    assert all(x["end"] >= x["committed"] >= 0 for x in lag if not x["no_commit"])
    assert all(x["committed"] is None for x in lag if x["no_commit"])
    assert sum(x["end"] for x in lag) >= 2  # the helper and the requests went through
    # The end offsets are the broker's: commands arrived between the two samples.
    assert any(r["commands_per_s"] > 0 for r in view["rates"]), view["rates"]
    assert view["dead_letters"] == 0
    [worker] = [w for w in view["workers"] if w["url"]]
    assert (worker["name"], worker["alive"], worker["in_group"]) == ("worker-1", True, True)
    assert worker["partitions"], "the worker owns partitions"
    # A community's staff do not see the district's infrastructure.
    assert (await client.get("/ops/v1/health", headers=bearer(LI))).status_code == 403

    # A record the worker cannot read is dead-lettered: the chart counts it.
    async with CommandProducer(api.kafka_bootstrap, commands) as producer:
        await producer.send_raw(A, b"not a command")

    async def dead_lettered() -> int:
        return int((await health())["dead_letters"])

    assert await eventually(dead_lettered, what="the dead letter counted") == 1

    # A stopped worker commits nothing: what the API queues meanwhile is lag on commands.
    [proc] = api.workers()
    proc.stop()
    r = await client.post("/v1/requests", json=builders.request(A), headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text

    async def lagging() -> list[dict[str, Any]] | None:
        got = commands_lag(await health())
        return got if sum(x["lag"] for x in got) > 0 else None

    await eventually(lagging, what="the queued command shown as lag")
    # Back at work, the worker catches up and the lag falls to 0 again.
    api.start_worker()

    async def caught_up() -> bool:
        got = commands_lag(await health())
        return bool(got) and sum(x["lag"] for x in got) == 0

    await eventually(caught_up, timeout=120, what="the lag back to 0")

"""No push says what is no longer true (session 38, two audits): a push held back by an outage
or a throttle is dropped at its next attempt once its request has ended, through the real
stack (Kafka, PostgreSQL, the worker and the API as processes, a local HTTP receiver as the
helper's and the grid worker's endpoints).

- The helper's endpoint answers 503 while she accepts, staff cancel, then it recovers: she
  gets the cancellation, never the assignment with the requester's phone and address after
  it (before: "您已接单…联系人：王女士 13912345678" arrived after "求助已取消…无需前往").
- A whistle held back by the grid worker's platform throttle (429, Retry-After) while staff
  resolve the request is never delivered (before: 【吹哨】 with a claim link for a closed
  request).

The waits are on events (the receiver's requests, the worker's /stats counting the pushes
withdrawn), never on wall-clock times: the endpoints refuse until the end is recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.links import action_links
from dispatcher.testing.push_receiver import PushReceiver, ok, rate_limited, server_error
from dispatcher.testing.stack import LocalStack, Proc
from tests.support import builders
from tests.support.link_answers import press
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
HELPERS = "noend-helpers"  # ann, the one helper
QUIET = "noend-staff"  # no helpers: every ring is empty, the whistle blows at once
GRID = f"community-{QUIET}.grid_worker"
CONTACT_PHONE = "13912345678"  # the requester's (tests/support/builders.py)
CLOSED = "SELECT closed_at IS NOT NULL FROM requests WHERE request_id = $1"


class Running:
    def __init__(self, stack: LocalStack, receiver: PushReceiver, worker: Proc) -> None:
        self.stack, self.receiver, self.worker = stack, receiver, worker

    def received(self, path: str, rid: str, kind: str) -> list[dict[str, Any]]:
        """The pushes of `kind` for request `rid` the endpoint at `path` took (answered 200)."""
        out = []
        for r in self.receiver.for_path(path):
            if r.status != 200:
                continue
            data = r.json()["data"]
            if data.get("request_id") == rid and data.get("kind") == kind:
                out.append(data)
        return out

    def refused(self, path: str) -> int:
        return sum(1 for r in self.receiver.for_path(path) if r.status != 200)

    async def withdrawn(self, endpoint: str) -> int:
        """The worker's count of pushes to `endpoint` dropped as no longer wanted."""
        stats = await self.stack.worker_stats(self.worker)
        lanes = stats.get("lanes", []) if stats else []
        return sum(int(lane.get("withdrawn", 0)) for lane in lanes if lane["endpoint"] == endpoint)


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[Running]:
    async with PushReceiver() as receiver:
        endpoints = [
            {"name": "phones", "kind": "webhook", "url": receiver.url("/phones"), "secret": SECRET},
            {"name": GRID, "kind": "webhook", "url": receiver.url("/grid"), "secret": SECRET},
        ]
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints)
        worker = stack.start_worker()
        stack.bot_communities.update({HELPERS, QUIET})
        await stack.start_api()
        yield Running(stack, receiver, worker)


@pytest.fixture(scope="module")
def api(run: Running) -> LocalStack:
    return run.stack


async def closed(db: asyncpg.Connection, rid: str) -> None:
    async def recorded() -> bool:
        return bool(await db.fetchval(CLOSED, rid))

    await eventually(recorded, what=f"the end of {rid} recorded")


async def new_request(client: httpx.AsyncClient, community: str) -> str:
    r = await client.post(
        "/v1/requests", json=builders.request(community, source=None), headers=STAFF
    )
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])


async def test_no_assignment_with_the_contact_after_the_cancellation(
    run: Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    helper = builders.helper("ann", HELPERS, ["driving"], channels=["phones"])
    r = await client.put("/v1/admin/helpers/ann", json=helper, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = await new_request(client, HELPERS)

    async def offered() -> str | None:
        return await db.fetchval("SELECT offer_id FROM offers WHERE request_id = $1", rid)

    offer_id = await eventually(offered, what="an offer to ann")
    await run.receiver.wait_for(lambda: bool(run.received("/phones", rid, "offer")), timeout=30)
    # Her messaging endpoint has a bad minute just as she accepts: the assignment is retried.
    refused_before = run.refused("/phones")
    run.receiver.set_default("/phones", server_error(503))
    link = action_links(
        run.stack.settings(push_endpoints=[]),
        request_id=rid,
        offer_id=offer_id,
        helper_id="ann",
        community_id=HELPERS,
        expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )["accept"]
    accepted = await press(client, httpx.URL(link).raw_path.decode())
    assert accepted.status_code == 200 and CONTACT_PHONE in accepted.text, accepted.text
    # Refused at least once: it waits for a retry, the contact in it.
    await run.receiver.wait_for(lambda: run.refused("/phones") > refused_before, timeout=30)
    r = await client.post(f"/ops/v1/requests/{rid}/cancel", headers=STAFF)
    assert r.status_code == 202, r.text
    await closed(db, rid)
    run.receiver.set_default("/phones", ok())  # the endpoint is back

    async def settled() -> bool:
        # Either the assignment is dropped at its next attempt (counted), or it arrives.
        return bool(run.received("/phones", rid, "assignment")) or (
            await run.withdrawn("phones") >= 1
        )

    await eventually(settled, timeout=120, what="the assignment's next attempt")
    late = run.received("/phones", rid, "assignment")
    assert not late, "the requester's phone and address reached the helper after the cancel"
    await run.receiver.wait_for(
        lambda: bool(run.received("/phones", rid, "cancellation")), timeout=120
    )
    taken = [r.json()["data"] for r in run.receiver.for_path("/phones") if r.status == 200]
    assert not [d["kind"] for d in taken if CONTACT_PHONE in d.get("text", "")]


async def test_no_whistle_after_the_resolve(
    run: Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # The grid worker's platform throttles every send until the request is resolved.
    run.receiver.set_default("/grid", rate_limited("2"))
    rid = await new_request(client, QUIET)

    def throttled() -> bool:
        return any(
            r.status == 429 and r.json()["data"].get("request_id") == rid
            for r in run.receiver.for_path("/grid")
        )

    await run.receiver.wait_for(throttled, timeout=60)  # the whistle, held back
    r = await client.post(
        f"/ops/v1/requests/{rid}/resolve", json={"note": "家属已处理"}, headers=STAFF
    )
    assert r.status_code == 202, r.text
    await closed(db, rid)
    run.receiver.set_default("/grid", ok())  # the throttle lifts

    async def settled() -> bool:
        return bool(run.received("/grid", rid, "whistle")) or await run.withdrawn(GRID) >= 1

    await eventually(settled, timeout=120, what="the whistle's next attempt")
    late = run.received("/grid", rid, "whistle")
    assert not late, f"a whistle reached the grid worker after the resolve: {late[0]['text']!r}"

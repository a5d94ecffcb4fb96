"""A whistle whose pushes reach none of the staff it calls, through the real stack (Kafka,
PostgreSQL, the worker and the API as processes, a local HTTP receiver as the duty officer's
and the grid worker's endpoints, both refusing for good): the notify agent reports it back
through Kafka, the core records it and climbs to the referral at once (not after the
whistle's two minutes), the referral's lost push is recorded too, and the dashboard's data
flags the request "值班人员未联系上" while it stays open."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.bench.record import _drop_db, _fresh_db
from dispatcher.bench.record_cpu import simulated_days
from dispatcher.record.projection import record_events
from dispatcher.testing.push_receiver import PushReceiver, server_error
from dispatcher.testing.stack import LocalStack
from schemas.events import Event, StaffNotReached
from tests.support.staff_calls import SECRET, both_calls_lost, dashboard_row, running

COMMUNITY = "unreached-a"  # no helpers: every ring is empty, the whistle blows at once
STAFF_PATHS = {
    f"community-{COMMUNITY}.duty": "/duty",
    f"community-{COMMUNITY}.grid_worker": "/grid",
}


def _refusing(receiver: PushReceiver) -> list[dict[str, str]]:
    """The duty officer's and grid worker's endpoints, both gone for good (410)."""
    endpoints = []
    for name, path in STAFF_PATHS.items():
        receiver.set_default(path, server_error(410))  # gone: a permanent failure
        endpoints.append(
            {"name": name, "kind": "webhook", "url": receiver.url(path), "secret": SECRET}
        )
    return endpoints


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    async with running(stack, COMMUNITY, _refusing) as started:
        yield started


async def test_the_dashboard_shows_a_request_whose_staff_were_not_reached(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # The referral came with the whistle's report, well inside its 120 s wait (checked there).
    request_id, whistle, referral = await both_calls_lost(client, db, COMMUNITY)
    assert (whistle["rung"], whistle["recipients"]) == ("whistle", 2)
    assert whistle["roles"] == ["duty", "grid_worker"]
    assert (referral["rung"], referral["recipients"]) == ("referral", 1)
    assert referral["roles"] == ["duty"]  # the referral rung calls the duty officer alone

    row = await dashboard_row(client, request_id)
    assert row["staff_unreached"] == "referral" and row["claimed_by"] is None
    assert row["status"] == "open"


@pytest.mark.parametrize("bulk", [True, False])
async def test_both_recording_paths_keep_the_last_rung_lost(stack: LocalStack, bulk: bool) -> None:
    """Two reports of one request in one batch: the set-based step (a run of the kind) and
    the per-event handler both leave the last rung lost on the request's row."""
    opened = next(e for e in simulated_days(5, days=1) if e.body.type == "request_opened")

    def lost(rung: str, n: int) -> Event:
        body = StaffNotReached(rung=rung, step=n, recipients=1, roles=("duty",))  # type: ignore[arg-type]
        return opened.model_copy(update={"event_id": f"{opened.event_id}:lost{n}", "body": body})

    name = f"test_rec_{uuid.uuid4().hex[:8]}_unreached"
    try:
        conn = await asyncpg.connect(await _fresh_db(stack.pg_dsn, name))
        try:
            batch = [opened, lost("whistle", 2), lost("referral", 3)]
            assert await record_events(conn, batch, bulk=bulk) == 3
            row = await conn.fetchrow(
                "SELECT staff_unreached, last_event_id FROM requests WHERE request_id = $1",
                opened.request_id,
            )
        finally:
            await conn.close()
    finally:
        await _drop_db(stack.pg_dsn, name)
    assert row is not None and row["staff_unreached"] == "referral"
    assert row["last_event_id"] == f"{opened.event_id}:lost3"

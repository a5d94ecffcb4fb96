"""Helper ids are not per community. The attack, through the real parts: community A's
staff name B's helper in an upsert (or in their ledger's 编号 column) with A's place, to
move, redirect or deactivate them; and an event of A's community recorded for B's helper
id (A's worker never saw that helper). Each is refused, and B's recorded helper — whose
`active` decides whether they can sign in — is unchanged."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from dispatcher.record.projection import record_events
from dispatcher.testing.stack import LocalStack
from schemas.events import Event, HelperUpdated
from tests.support import builders
from tests.support.staff import DISTRICT, bearer, write_staff_file
from tests.support.waiting import eventually

A_TOKEN = secrets.token_urlsafe(32)
B_TOKEN = secrets.token_urlsafe(32)
A, B = "xc-a", "xc-b"
B_HELPER = "xc-b1"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    write_staff_file(stack, {"staff-a": (A_TOKEN, [A]), "staff-b": (B_TOKEN, [B])})
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as c:
        theirs = builders.helper(B_HELPER, B, ["driving"])
        r = await c.put(f"/v1/admin/helpers/{B_HELPER}", json=theirs, headers=bearer(B_TOKEN))
        assert r.status_code == 202, r.text
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(lambda: recorded(conn, B_HELPER), what="B's helper recorded")
    finally:
        await conn.close()
    yield stack


async def recorded(db: asyncpg.Connection, helper_id: str) -> tuple[str, bool] | None:
    row = await db.fetchrow(
        "SELECT community_id, active FROM helpers WHERE helper_id = $1", helper_id
    )
    return None if row is None else (row["community_id"], row["active"])


async def barrier(c: httpx.AsyncClient, db: asyncpg.Connection, helper_id: str) -> None:
    """A later command of A's (same partition, in order): once it is recorded, anything A
    queued before it would have been too."""
    mine = builders.helper(helper_id, A, ["driving"])
    r = await c.put(f"/v1/admin/helpers/{helper_id}", json=mine, headers=bearer(A_TOKEN))
    assert r.status_code == 202, r.text
    await eventually(lambda: recorded(db, helper_id), what=f"A's {helper_id} recorded")


async def test_a_cannot_upsert_bs_helper(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    taken = builders.helper(
        B_HELPER, A, ["driving"], active=False, channels=["webhook:a-relay"], phone=None
    )
    for token in (A_TOKEN, DISTRICT):  # no account moves a helper between communities
        r = await client.put(f"/v1/admin/helpers/{B_HELPER}", json=taken, headers=bearer(token))
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["reason"] == "helper_of_another_community"
    await barrier(client, db, "xc-a1")
    assert await recorded(db, B_HELPER) == (B, True)


async def test_a_ledger_naming_bs_helper_is_refused_row_by_row(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    ledger = (
        "姓名,手机,楼栋,编号\n"
        f"冒名,13800000031,3号楼,{B_HELPER}\n"  # B's helper under A's place
        "自己人,13800000032,5号楼,xc-a2\n"
    )
    path = f"/v1/admin/communities/{A}/roster"
    headers = {**bearer(A_TOKEN), "content-type": "text/csv"}
    params = {"compound_id": "c1", "grid_id": "g1"}
    r = await client.post(path, params=params, content=ledger.encode(), headers=headers)
    assert r.status_code == 422, r.text
    [refused] = r.json()["rejected"]
    assert refused["row"] == 2 and "belongs to another community" in refused["errors"][0]
    assert r.json()["imported"] == 0
    partial = {**params, "partial": "true"}
    r = await client.post(path, params=partial, content=ledger.encode(), headers=headers)
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    await eventually(lambda: recorded(db, "xc-a2"), what="A's own row imported")
    await barrier(client, db, "xc-a3")
    assert await recorded(db, B_HELPER) == (B, True)


async def test_an_event_of_a_never_overwrites_bs_recorded_helper(api: LocalStack) -> None:
    """A and B on different partitions: A's core did not know the id and made a helper of
    its own; its `helper_updated` must not deactivate B's row."""
    conn = await asyncpg.connect(api.pg_dsn)
    try:
        for bulk in (True, False):
            event = updated_by(A, active=False)
            assert await record_events(conn, [event], bulk=bulk) == 1
            assert await recorded(conn, B_HELPER) == (B, True)
        # A batch (a roster import's hundreds go as one upsert) with both communities'.
        batch = [updated_by(B, active=True), updated_by(A, active=False)]
        assert await record_events(conn, batch, bulk=True) == 2
        assert await recorded(conn, B_HELPER) == (B, True)
    finally:
        await conn.close()


def updated_by(community_id: str, *, active: bool) -> Event:
    return Event(
        event_id=str(uuid.uuid4()),
        community_id=community_id,
        occurred_at=datetime.now(UTC),
        caused_by=str(uuid.uuid4()),
        body=HelperUpdated(helper_id=B_HELPER, active=active, away=False, busy=False),
    )

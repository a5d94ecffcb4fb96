"""Ending a request a test's helper accepted in person, so that helper is free again.

Since session 40 a helper who accepted an in-person need of a live request is held (README,
"One in-person errand at a time"): the next request of the same or lower urgency is not
offered to them. A module whose later tests need that helper offered again ends the earlier
request the way it ends in life, the requester confirming it resolved, and waits until the
worker recorded it (the read model is written after the worker applied the command, and the
community's later commands follow it on the same partition).
"""

from __future__ import annotations

import asyncpg
import httpx

from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def resolve(client: httpx.AsyncClient, db: asyncpg.Connection, rid: str) -> None:
    """`rid` resolved through the staff API (on the requester's word), once recorded."""
    r = await client.post(f"/v1/requests/{rid}/resolve", json={"request_id": rid}, headers=STAFF)
    assert r.status_code == 202, r.text

    async def closed() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT outcome FROM requests WHERE request_id = $1 AND closed_at IS NOT NULL", rid
        )

    assert await eventually(closed, what="the accepted request resolved") == "resolved"

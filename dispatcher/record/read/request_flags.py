"""Two facts of a recorded request that the API's replies to a chat group depend on: whether
it is held for quiet hours now (a report merged into it is told so) and whether staff
claimed it (its expiry is not told as "nobody took it")."""

from __future__ import annotations

from datetime import datetime

from dispatcher.record.db import Db


async def held_until(db: Db, request_id: str) -> datetime | None:
    """When a held request goes out; None when it is not held (released, never held, or
    not recorded yet)."""
    value = await db.fetchval("SELECT held_until FROM requests WHERE request_id = $1", request_id)
    return value if isinstance(value, datetime) else None


async def claimed(db: Db, request_id: str) -> bool:
    """Did a staff member take the request on (`ClaimRequest`)?"""
    value = await db.fetchval(
        "SELECT claimed_by IS NOT NULL FROM requests WHERE request_id = $1", request_id
    )
    return bool(value)


async def reported_back(db: Db, request_id: str, recipient: str) -> bool:
    """Has this whistle recipient's 报到 been recorded (`whistle_reported_back`, in the event
    log only)?"""
    found = await db.fetchval(
        "SELECT 1 FROM event_log WHERE request_id = $1 AND type = 'whistle_reported_back'"
        " AND body->>'recipient' = $2 LIMIT 1",
        request_id,
        recipient,
    )
    return found is not None

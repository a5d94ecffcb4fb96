"""Facts of a recorded request that the API's replies to a chat group depend on: whether
it is held for quiet hours now (a report merged into it is told so), whether staff
claimed it (its expiry is not told as "nobody took it") and whether its ladder was paused
for quiet hours when a helper withdrew (nobody else is asked before they end)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from dispatcher.record.db import Db


@dataclass(frozen=True)
class Pause:
    """A ladder paused for quiet hours (`request_paused`): at `at`, until `until`, which is
    `local_time` (HH:MM) in the community's zone."""

    at: datetime
    until: datetime
    local_time: str


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


async def pause_before(db: Db, request_id: str, at: datetime) -> Pause | None:
    """The request's latest pause for quiet hours recorded at or before `at` (in the event
    log: a group hearing of a withdrawal needs when it began, not only its end), or None."""
    row = await db.fetchrow(
        "SELECT occurred_at, body FROM event_log WHERE request_id = $1"
        " AND type = 'request_paused' AND occurred_at <= $2"
        " ORDER BY occurred_at DESC LIMIT 1",
        request_id,
        at,
    )
    if row is None:
        return None
    body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
    until = datetime.fromisoformat(str(body["until"]))
    return Pause(row["occurred_at"], until, str(body["local_time"]))

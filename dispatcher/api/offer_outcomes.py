"""What became of an offer action, read from the PostgreSQL read model (never written here
except our own `api_link_uses`). The worker decides; we only look at what it recorded."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

Outcome = Literal["assigned", "covered", "declined", "closed", "not_open", "refused"]

POLL_TIMEOUT_S = 4.0
POLL_EVERY_S = 0.05
_LINK_NS = uuid.UUID("a4c3f0a2-0a53-4d55-8a61-6d1c6b0f5e07")

# The core's CommandRejected reasons → what the volunteer is told.
_REJECTED: dict[str, Outcome] = {
    "covered": "covered",
    "request_closed": "closed",
    "offer_not_open": "not_open",
}


def command_id_for(use_key: str) -> str:
    """Deterministic: two racing POSTs of one link produce one command id (core dedupes)."""
    return str(uuid.uuid5(_LINK_NS, use_key))


@dataclass(frozen=True)
class LinkUse:
    use_key: str
    command_id: str
    action: str
    request_id: str
    offer_id: str
    helper_id: str
    outcome: str | None


async def claim(pool: asyncpg.Pool, use: LinkUse) -> tuple[bool, LinkUse]:
    """(True, use) for the first POST of this link; (False, the recorded use) afterwards."""
    won = await pool.fetchval(
        "INSERT INTO api_link_uses (use_key, command_id, action, request_id, offer_id, helper_id)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        use.use_key,
        use.command_id,
        use.action,
        use.request_id,
        use.offer_id,
        use.helper_id,
    )
    if won:
        return True, use
    recorded = await recorded_use(pool, use.use_key)
    assert recorded is not None
    return False, recorded


async def release(pool: asyncpg.Pool, use_key: str) -> None:
    """The command could not be queued: the link stays usable."""
    await pool.execute("DELETE FROM api_link_uses WHERE use_key = $1 AND outcome IS NULL", use_key)


async def recorded_use(pool: asyncpg.Pool, use_key: str) -> LinkUse | None:
    row = await pool.fetchrow(
        "SELECT use_key, command_id, action, request_id, offer_id, helper_id, outcome "
        "FROM api_link_uses WHERE use_key = $1",
        use_key,
    )
    return LinkUse(**dict(row)) if row is not None else None


async def read_outcome(pool: asyncpg.Pool, use: LinkUse) -> Outcome | None:
    """None while the worker has not recorded anything about this command yet."""
    if use.action == "accept":
        assigned = await pool.fetchval(
            "SELECT true FROM assignments WHERE request_id = $1 AND helper_id = $2 "
            "AND offer_id = $3",
            use.request_id,
            use.helper_id,
            use.offer_id,
        )
        if assigned:
            return "assigned"
    else:
        status = await pool.fetchval("SELECT status FROM offers WHERE offer_id = $1", use.offer_id)
        if status == "declined":
            return "declined"
    reason = await pool.fetchval(
        "SELECT body->>'reason' FROM event_log WHERE caused_by = $1 AND type = 'command_rejected'"
        " LIMIT 1",
        use.command_id,
    )
    if reason is None:
        return None
    return _REJECTED.get(str(reason), "refused")


async def settle(pool: asyncpg.Pool, use: LinkUse, timeout: float = POLL_TIMEOUT_S) -> str | None:
    """The outcome, polling briefly for the worker; stored once known."""
    if use.outcome is not None:
        return use.outcome
    deadline = time.monotonic() + timeout
    while True:
        outcome = await read_outcome(pool, use)
        if outcome is not None:
            await pool.execute(
                "UPDATE api_link_uses SET outcome = $2, outcome_at = now() "
                "WHERE use_key = $1 AND outcome IS NULL",
                use.use_key,
                outcome,
            )
            return outcome
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL_EVERY_S)


async def request_summary(pool: asyncpg.Pool, request_id: str) -> asyncpg.Record | None:
    """Public facts only: category, urgency, building label, status."""
    return await pool.fetchrow(
        "SELECT category, urgency, building_label, status, closed_at, helpers_needed, "
        "helpers_assigned FROM requests WHERE request_id = $1",
        request_id,
    )


async def private_details(
    pool: asyncpg.Pool, request_id: str, helper_id: str
) -> dict[str, Any] | None:
    """Contact and exact place, only for an active assignment of this helper on an open
    request (PIPL: minimum necessary, only to the helper who accepted)."""
    row = await pool.fetchrow(
        """
        SELECT p.contact, p.place, p.text FROM request_private p
        JOIN assignments a ON a.request_id = p.request_id
        JOIN requests r ON r.request_id = p.request_id
        WHERE p.request_id = $1 AND a.helper_id = $2 AND a.released_at IS NULL
          AND r.closed_at IS NULL
        """,
        request_id,
        helper_id,
    )
    if row is None:
        return None
    return {
        "contact": json.loads(row["contact"]),
        "place": json.loads(row["place"]),
        "text": row["text"],
    }

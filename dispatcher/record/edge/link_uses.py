"""Volunteers' answers through links (`api_link_uses`): one row per link action, claimed by
its first POST, with the outcome once known and how often it was re-sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db


@dataclass(frozen=True)
class LinkUse:
    use_key: str
    command_id: str
    action: str
    request_id: str
    offer_id: str
    helper_id: str
    outcome: str | None


@dataclass(frozen=True)
class UnappliedUse(LinkUse):
    """An answer whose command caused no event yet, with what re-sending it needs."""

    used_at: datetime
    community_id: str


async def claim(db: Db, use: LinkUse) -> bool:
    """True for the first POST of this link."""
    won = await db.fetchval(
        "INSERT INTO api_link_uses (use_key, command_id, action, request_id, offer_id, helper_id)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        use.use_key,
        use.command_id,
        use.action,
        use.request_id,
        use.offer_id,
        use.helper_id,
    )
    return bool(won)


async def release(db: Db, use_key: str) -> None:
    """Forget an answer not yet settled (its command was never queued)."""
    await db.execute("DELETE FROM api_link_uses WHERE use_key = $1 AND outcome IS NULL", use_key)


async def recorded(db: Db, use_key: str) -> LinkUse | None:
    row = await db.fetchrow(
        "SELECT use_key, command_id, action, request_id, offer_id, helper_id, outcome "
        "FROM api_link_uses WHERE use_key = $1",
        use_key,
    )
    return LinkUse(**dict(row)) if row is not None else None


async def settle(db: Db, use_key: str, outcome: str) -> None:
    await db.execute(
        "UPDATE api_link_uses SET outcome = $2, outcome_at = now() "
        "WHERE use_key = $1 AND outcome IS NULL",
        use_key,
        outcome,
    )


async def unapplied(
    conn: asyncpg.Connection, grace_s: float, max_resends: int
) -> list[UnappliedUse]:
    """Answers older than `grace_s` whose command caused no event, locked for this
    transaction (another API instance skips them)."""
    rows = await conn.fetch(
        """
        SELECT u.use_key, u.command_id, u.action, u.request_id, u.offer_id, u.helper_id,
               u.outcome, u.used_at, r.community_id
        FROM api_link_uses u JOIN requests r ON r.request_id = u.request_id
        WHERE u.used_at < now() - make_interval(secs => $1) AND u.resent < $2
          AND NOT EXISTS (SELECT 1 FROM event_log e WHERE e.caused_by = u.command_id)
        ORDER BY u.used_at LIMIT 500
        FOR UPDATE OF u SKIP LOCKED
        """,
        grace_s,
        max_resends,
    )
    return [UnappliedUse(**dict(r)) for r in rows]


async def count_resent(conn: asyncpg.Connection, use_key: str) -> None:
    await conn.execute("UPDATE api_link_uses SET resent = resent + 1 WHERE use_key = $1", use_key)

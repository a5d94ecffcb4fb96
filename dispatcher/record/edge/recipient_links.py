"""`recipient_link_uses`: which one-time recipient links (claim, 报到) were used, with the
command each use sends (the outbox: re-sent as is while Kafka's ack is not known) and when
Kafka acknowledged it. Hashes only: no link, no personal data."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from dispatcher.record.db import Db


@dataclass(frozen=True)
class RecipientUse:
    first: bool  # this call claimed the link
    command_id: str
    command: str | None  # the command as sent (JSON); None on rows from before 0390
    queued: bool  # Kafka acknowledged it


@dataclass(frozen=True)
class Unqueued:
    link_sha256: str
    command_id: str
    community_id: str
    command: str


async def claim_use(
    db: Db,
    link_sha256: str,
    request_id: str,
    recipient: str,
    action: str,
    command_id: str,
    command: str,
) -> RecipientUse:
    """Record the link's first use with `command`; a later call gets the recorded use."""
    inserted = await db.fetchval(
        "INSERT INTO recipient_link_uses (link_sha256, request_id, recipient, action, "
        "command_id, command) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (link_sha256) DO NOTHING RETURNING true",
        link_sha256,
        request_id,
        recipient,
        action,
        command_id,
        command,
    )
    if inserted:
        return RecipientUse(True, command_id, command, False)
    row = await db.fetchrow(
        "SELECT command_id, command, queued_at IS NOT NULL AS queued "
        "FROM recipient_link_uses WHERE link_sha256 = $1",
        link_sha256,
    )
    return RecipientUse(False, row["command_id"], row["command"], row["queued"])


async def mark_queued(db: Db, link_sha256: str) -> None:
    await db.execute(
        "UPDATE recipient_link_uses SET queued_at = now() "
        "WHERE link_sha256 = $1 AND queued_at IS NULL",
        link_sha256,
    )


async def unqueued(conn: asyncpg.Connection, grace_s: float, limit: int) -> list[Unqueued]:
    """Uses older than `grace_s` whose command Kafka never acknowledged (their press died
    before the ack), locked for this transaction (another API instance skips them)."""
    rows = await conn.fetch(
        """
        SELECT link_sha256, command_id, command::jsonb ->> 'community_id' AS community_id,
               command
        FROM recipient_link_uses
        WHERE queued_at IS NULL AND command IS NOT NULL
          AND used_at < now() - make_interval(secs => $1)
        ORDER BY used_at LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        grace_s,
        limit,
    )
    return [Unqueued(**dict(r)) for r in rows]

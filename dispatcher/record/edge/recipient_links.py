"""`recipient_link_uses`: which one-time recipient links (claim, 报到) were used. Hashes only."""

from __future__ import annotations

from dispatcher.record.db import Db


async def claim_use(
    db: Db, link_sha256: str, request_id: str, recipient: str, action: str, command_id: str
) -> bool:
    """True if this is the link's first use (and records it); False if used before."""
    inserted = await db.fetchval(
        "INSERT INTO recipient_link_uses (link_sha256, request_id, recipient, action, command_id) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (link_sha256) DO NOTHING RETURNING true",
        link_sha256,
        request_id,
        recipient,
        action,
        command_id,
    )
    return bool(inserted)


async def release(db: Db, link_sha256: str) -> None:
    """The command could not be queued: the link may be pressed again."""
    await db.execute("DELETE FROM recipient_link_uses WHERE link_sha256 = $1", link_sha256)

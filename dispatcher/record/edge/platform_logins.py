"""`platform_logins`: each chat-platform login that reached the code step, by the code's hash
(a code is one-time: a second presentation is refused). Hashes only: no codes, no user ids."""

from __future__ import annotations

from dispatcher.record.db import Db


async def claim(db: Db, platform: str, code_hash: str, helper_id: str | None, outcome: str) -> bool:
    """Record the attempt; False when this code was presented before."""
    inserted = await db.fetchval(
        "INSERT INTO platform_logins (platform, code_hash, helper_id, outcome)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING RETURNING true",
        platform,
        code_hash,
        helper_id,
        outcome,
    )
    return bool(inserted)


async def settle(db: Db, code_hash: str, outcome: str, helper_id: str | None = None) -> None:
    """The attempt's outcome, and the helper it logged in when the roster decided who."""
    await db.execute(
        "UPDATE platform_logins SET outcome = $2, helper_id = COALESCE($3, helper_id)"
        " WHERE code_hash = $1",
        code_hash,
        outcome,
        helper_id,
    )

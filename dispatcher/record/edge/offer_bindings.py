"""`offer_device_bindings`: which device a private offer link is bound to (a keyed hash of
its cookie), and how often another device was refused. Hashes and ids only."""

from __future__ import annotations

from dispatcher.record.db import Db


async def bind(db: Db, offer_id: str, helper_id: str, device_hash: str) -> str:
    """Bind the offer to this device unless one was bound first; the binding that holds
    (two phones opening at once: exactly one wins)."""
    won = await db.fetchval(
        "INSERT INTO offer_device_bindings (offer_id, helper_id, device_hash)"
        " VALUES ($1, $2, $3) ON CONFLICT (offer_id) DO NOTHING RETURNING device_hash",
        offer_id,
        helper_id,
        device_hash,
    )
    if won is not None:
        return str(won)
    held = await bound(db, offer_id)
    assert held is not None  # bindings are never deleted while the API runs
    return held


async def bound(db: Db, offer_id: str) -> str | None:
    value = await db.fetchval(
        "SELECT device_hash FROM offer_device_bindings WHERE offer_id = $1", offer_id
    )
    return str(value) if value is not None else None


async def count_refused(db: Db, offer_id: str) -> None:
    await db.execute(
        "UPDATE offer_device_bindings SET refused = refused + 1, last_refused_at = now()"
        " WHERE offer_id = $1",
        offer_id,
    )

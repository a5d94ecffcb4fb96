"""`helper_link_bindings`: which browser a helper's personal link is bound to (a keyed
hash of its cookie) and which of their links that was, and how often another browser was
refused. Hashes and ids only."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.record.db import Db


@dataclass(frozen=True)
class Held:
    link_expires: int  # the bound link's expiry (unix seconds): which link of the helper
    device_hash: str


async def held(db: Db, community_id: str, helper_id: str) -> Held | None:
    row = await db.fetchrow(
        "SELECT link_expires, device_hash FROM helper_link_bindings"
        " WHERE community_id = $1 AND helper_id = $2",
        community_id,
        helper_id,
    )
    return None if row is None else Held(int(row["link_expires"]), str(row["device_hash"]))


async def bind(
    db: Db, community_id: str, helper_id: str, link_expires: int, device_hash: str
) -> Held:
    """Bind the helper's link to this browser unless it (or a newer link of theirs) was
    bound first; a newer link replaces an older one's binding (a welcome sent again moves it
    to the phone that opens it). The binding that holds: of two browsers at once, one."""
    row = await db.fetchrow(
        "INSERT INTO helper_link_bindings (community_id, helper_id, link_expires, device_hash)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (community_id, helper_id) DO UPDATE"
        " SET link_expires = EXCLUDED.link_expires, device_hash = EXCLUDED.device_hash,"
        " bound_at = now(), refused = 0, last_refused_at = NULL"
        " WHERE helper_link_bindings.link_expires < EXCLUDED.link_expires"
        " RETURNING link_expires, device_hash",
        community_id,
        helper_id,
        link_expires,
        device_hash,
    )
    if row is not None:
        return Held(int(row["link_expires"]), str(row["device_hash"]))
    found = await held(db, community_id, helper_id)
    if found is None:  # staff released it a moment ago: bind again
        return await bind(db, community_id, helper_id, link_expires, device_hash)
    return found


async def count_refused(db: Db, community_id: str, helper_id: str) -> None:
    await db.execute(
        "UPDATE helper_link_bindings SET refused = refused + 1, last_refused_at = now()"
        " WHERE community_id = $1 AND helper_id = $2",
        community_id,
        helper_id,
    )


async def release(db: Db, community_id: str, helper_id: str) -> bool:
    """Staff, when a helper changed phone: the next browser to open their link is bound."""
    done = await db.execute(
        "DELETE FROM helper_link_bindings WHERE community_id = $1 AND helper_id = $2",
        community_id,
        helper_id,
    )
    return str(done) != "DELETE 0"

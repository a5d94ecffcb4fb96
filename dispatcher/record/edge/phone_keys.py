"""`helper_phone_keys`: each roster helper's phone digest per community (`KeyRing.phone_key`,
an HMAC of the number, never the number). Written by the API whenever it puts helpers on
the roster (a ledger import, a staff upsert, an approved sign-up) and forgotten when it
takes them off; read when staff approve a sign-up: a ledger row with a 编号 and a sign-up
(keyed from the phone) are two ids of one person."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from dispatcher.record.db import Db


async def remember(
    db: Db, community_id: str, keys: Sequence[tuple[str, str | None]], now: datetime
) -> None:
    """(helper id, phone digest or None) per helper: None (no phone) forgets the helper's."""
    await db.executemany(
        "INSERT INTO helper_phone_keys (community_id, helper_id, phone_key, updated_at) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (community_id, helper_id) DO UPDATE SET "
        "phone_key = EXCLUDED.phone_key, updated_at = EXCLUDED.updated_at",
        [(community_id, h, k, now) for h, k in keys if k is not None],
    )
    await forget(db, community_id, [h for h, k in keys if k is None])


async def forget(db: Db, community_id: str, helper_ids: Collection[str]) -> None:
    """Off the roster (a ledger's retirement, staff's deactivation: `roster_members`):
    nothing that could name them is kept (migration 0393's rule)."""
    if helper_ids:
        await db.execute(
            "DELETE FROM helper_phone_keys WHERE community_id = $1 AND helper_id = ANY($2)",
            community_id,
            list(helper_ids),
        )


async def holders(db: Db, community_id: str, phone_key: str) -> list[str]:
    """The community's helpers with this phone, but those the worker recorded inactive (one
    whose command it has not applied yet counts: refusing then is the safe side)."""
    rows = await db.fetch(
        "SELECT k.helper_id FROM helper_phone_keys k LEFT JOIN helpers h"
        " ON h.helper_id = k.helper_id AND h.community_id = k.community_id"
        " WHERE k.community_id = $1 AND k.phone_key = $2 AND h.active IS NOT false"
        " ORDER BY k.helper_id",
        community_id,
        phone_key,
    )
    return [str(r["helper_id"]) for r in rows]

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


# The batch's helpers the read model does not record inactive (`holders`' condition) and
# those it does; the first are written where no row is, the second never.
_BATCH = """
    WITH k AS (SELECT * FROM unnest($2::text[], $3::text[]) AS k(helper_id, phone_key)),
    eligible AS (
        SELECT k.* FROM k LEFT JOIN helpers h
            ON h.helper_id = k.helper_id AND h.community_id = $1
        WHERE h.active IS NOT false
    )
"""
_INSERT = (
    _BATCH
    + """, written AS (
        INSERT INTO helper_phone_keys (community_id, helper_id, phone_key, updated_at)
        SELECT $1, helper_id, phone_key, $4 FROM eligible
        ON CONFLICT (community_id, helper_id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written) AS inserted, (SELECT count(*) FROM eligible) AS eligible
"""
)
_DRY = (
    _BATCH
    + """
    SELECT (SELECT count(*) FROM eligible e WHERE NOT EXISTS (
                SELECT 1 FROM helper_phone_keys p
                WHERE p.community_id = $1 AND p.helper_id = e.helper_id)) AS inserted,
           (SELECT count(*) FROM eligible) AS eligible
"""
)


async def backfill(
    db: Db,
    community_id: str,
    helper_ids: Sequence[str],
    keys: Sequence[str],
    now: datetime,
    *,
    dry_run: bool,
) -> tuple[int, int]:
    """`python -m dispatcher phone-keys`: rows written where a helper has none (or that would
    be, `dry_run`), and how many of the helpers the read model does not record inactive."""
    if dry_run:
        found = await db.fetchrow(_DRY, community_id, list(helper_ids), list(keys))
    else:
        found = await db.fetchrow(_INSERT, community_id, list(helper_ids), list(keys), now)
    if found is None:  # an aggregate always answers one row
        raise RuntimeError("phone-keys backfill: no row from the count")
    return int(found["inserted"]), int(found["eligible"])

"""Who still needs the welcome or a month's summary: the helpers as recorded, less those
whose `helper_welcomed` / `helper_summary_sent` event is in the log."""

from __future__ import annotations

from dispatcher.record.db import Db


async def not_welcomed(db: Db, community_id: str) -> list[str]:
    rows = await db.fetch(
        """
        SELECT h.helper_id FROM helpers h
        WHERE h.community_id = $1 AND h.active
          AND NOT EXISTS (SELECT 1 FROM event_log e
                          WHERE e.community_id = $1 AND e.type = 'helper_welcomed'
                            AND e.body->>'helper_id' = h.helper_id)
        ORDER BY h.helper_id
        """,
        community_id,
    )
    return [r["helper_id"] for r in rows]


async def welcomed_among(db: Db, community_id: str, helper_ids: list[str]) -> int:
    count = await db.fetchval(
        """
        SELECT count(DISTINCT body->>'helper_id') FROM event_log
        WHERE community_id = $1 AND type = 'helper_welcomed'
          AND body->>'helper_id' = ANY($2::text[])
        """,
        community_id,
        helper_ids,
    )
    return int(count)


async def summarised(db: Db, community_id: str, month: str) -> set[str]:
    rows = await db.fetch(
        """
        SELECT body->>'helper_id' AS helper_id FROM event_log
        WHERE community_id = $1 AND type = 'helper_summary_sent' AND body->>'month' = $2
        """,
        community_id,
        month,
    )
    return {r["helper_id"] for r in rows}


async def all_active(db: Db, community_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT helper_id FROM helpers WHERE community_id = $1 AND active ORDER BY helper_id",
        community_id,
    )
    return [r["helper_id"] for r in rows]

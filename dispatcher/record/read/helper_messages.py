"""Who still needs the welcome or a month's summary: the helpers as recorded, less those
whose `helper_welcomed` / `helper_summary_sent` event is in the log. A welcome the notify
agent reported as not sent (`helper_welcome_outcome`, sent false: no private channel, or
the push failed for good) counts as not welcomed until a later one goes out."""

from __future__ import annotations

from dispatcher.record.db import Db


async def not_welcomed(db: Db, community_id: str) -> list[str]:
    """Active helpers with no welcome yet, or whose last welcome reached nobody."""
    rows = await db.fetch(
        """
        SELECT h.helper_id FROM helpers h
        LEFT JOIN LATERAL (
            SELECT e.type, e.body FROM event_log e
            WHERE e.community_id = $1
              AND e.type IN ('helper_welcomed', 'helper_welcome_outcome')
              AND e.body->>'helper_id' = h.helper_id
            ORDER BY e.seq DESC LIMIT 1) last ON true
        WHERE h.community_id = $1 AND h.active
          AND (last.type IS NULL
               OR (last.type = 'helper_welcome_outcome'
                   AND NOT (last.body->>'sent')::boolean))
        ORDER BY h.helper_id
        """,
        community_id,
    )
    return [r["helper_id"] for r in rows]


async def last_seq(db: Db) -> int:
    """Where the log stands: outcomes after this belong to the welcomes queued next."""
    return int(await db.fetchval("SELECT coalesce(max(seq), 0) FROM event_log"))


async def welcome_outcomes(
    db: Db, community_id: str, helper_ids: list[str], after_seq: int
) -> dict[str, tuple[bool, str]]:
    """Each helper's latest welcome outcome recorded after `after_seq`: (sent, reason)."""
    rows = await db.fetch(
        """
        SELECT DISTINCT ON (body->>'helper_id') body->>'helper_id' AS helper_id,
               (body->>'sent')::boolean AS sent, coalesce(body->>'reason', '') AS reason
        FROM event_log
        WHERE community_id = $1 AND type = 'helper_welcome_outcome' AND seq > $3
          AND body->>'helper_id' = ANY($2::text[])
        ORDER BY body->>'helper_id', seq DESC
        """,
        community_id,
        helper_ids,
        after_seq,
    )
    return {r["helper_id"]: (r["sent"], r["reason"]) for r in rows}


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

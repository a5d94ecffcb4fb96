"""The dashboard's JSON snapshot from PostgreSQL's read models (no personal data).

Open requests show community, category, urgency, ring, wait and helper counts — not the
building label: on a wall screen in a community office, "medical, building 3" can name a
household in a small building (PIPL art. 28, health data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

# Days and months are China's local ones (UTC+8, no daylight saving).
LOCAL_TZ = "Asia/Shanghai"

OPEN_SQL = """
SELECT request_id, community_id, category, urgency, status, ring, step, helpers_needed,
       helpers_assigned, offers_sent, opened_at, first_offer_at, first_accept_at,
       whistled_at IS NOT NULL AS whistled, emergency_advised
FROM requests WHERE closed_at IS NULL ORDER BY opened_at LIMIT $1
"""

RECENT_CLOSED_SQL = """
SELECT request_id, community_id, category, urgency, status, outcome, ring, step,
       helpers_needed, helpers_assigned, offers_sent, opened_at, first_accept_at, closed_at
FROM requests WHERE closed_at >= now() - interval '1 hour'
ORDER BY closed_at DESC LIMIT $1
"""

# One row per community for "today" (local), plus a NULL-community row for all of them.
TODAY_SQL = f"""
WITH today AS (
  SELECT r.*, EXTRACT(EPOCH FROM first_accept_at - opened_at) AS ttfa
  FROM requests r
  WHERE opened_at >= (date_trunc('day', now() AT TIME ZONE '{LOCAL_TZ}')
                      AT TIME ZONE '{LOCAL_TZ}')
)
SELECT community_id,
       count(*) AS requests,
       count(*) FILTER (WHERE closed_at IS NULL) AS open,
       count(first_accept_at) AS answered,
       count(*) FILTER (WHERE outcome = 'resolved') AS resolved,
       count(*) FILTER (WHERE outcome = 'expired') AS expired,
       count(*) FILTER (WHERE whistled_at IS NOT NULL) AS whistles,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfa) AS ttfa_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfa) AS ttfa_p90,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ttfa) AS ttfa_p99
FROM today GROUP BY GROUPING SETS ((community_id), ())
ORDER BY community_id NULLS FIRST
"""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {k: _iso(v) for k, v in record.items()}


def _rate(answered: int, requests: int) -> float | None:
    return round(answered / requests, 4) if requests else None


async def overview(conn: asyncpg.Connection | asyncpg.Pool, *, limit: int = 200) -> dict[str, Any]:
    open_rows = await conn.fetch(OPEN_SQL, limit)
    closed_rows = await conn.fetch(RECENT_CLOSED_SQL, 50)
    today_rows = [_row(r) for r in await conn.fetch(TODAY_SQL)]
    for r in today_rows:
        r["answered_rate"] = _rate(r["answered"], r["requests"])
    total = next((r for r in today_rows if r["community_id"] is None), None)
    empty = {"requests": 0, "open": 0, "answered": 0, "answered_rate": None}
    return {
        "generated_at": _iso(await conn.fetchval("SELECT now()")),
        "open": [_row(r) for r in open_rows],
        "recent_closed": [_row(r) for r in closed_rows],
        "today": {k: v for k, v in (total or empty).items() if k != "community_id"},
        "communities": [r for r in today_rows if r["community_id"] is not None],
    }

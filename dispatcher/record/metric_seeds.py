"""The requests the worker's event metrics did not see opened, as PostgreSQL recorded them.

Read by the record agent (streams/record_agent.py) before it writes a batch, only for the
requests `EventMetrics.unknown_requests` names: none in the steady state, those opened before
a restart or a rebalance after one. One set-based query per such batch.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from dispatcher.ops.event_metrics import RequestSeed

SEEDS = """
SELECT request_id, category, urgency, opened_at,
       first_offer_at IS NOT NULL AS offered, first_accept_at IS NOT NULL AS answered,
       held_until IS NOT NULL OR released_at IS NOT NULL AS held, released_at, first_offer_at
  FROM requests WHERE request_id = ANY($1::text[])
"""


async def request_seeds(
    conn: asyncpg.Connection, request_ids: Collection[str]
) -> list[RequestSeed]:
    if not request_ids:
        return []
    rows = await conn.fetch(SEEDS, list(request_ids))
    return [
        RequestSeed(
            request_id=r["request_id"],
            category=r["category"],
            urgency=r["urgency"],
            opened_at=r["opened_at"],
            offered=r["offered"],
            answered=r["answered"],
            held=r["held"],
            released_at=r["released_at"],
            first_offer_at=r["first_offer_at"],
        )
        for r in rows
    ]

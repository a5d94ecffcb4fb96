"""The whole read model as comparable tuples, table by table (benchmarks prove two record
paths equal with it)."""

from __future__ import annotations

from typing import Any

from dispatcher.record.db import Db

TABLES = {
    "requests": "SELECT request_id, status, outcome, ring, step, helpers_assigned, offers_sent,"
    " first_offer_at, first_accept_at, closed_at FROM requests ORDER BY 1",
    "offers": "SELECT offer_id, request_id, helper_id, ring, step, status, sent_at, expires_at,"
    " answered_at FROM offers ORDER BY 1",
    "assignments": "SELECT request_id, helper_id, offer_id, slot FROM assignments ORDER BY 1, 2",
    "event_log": "SELECT event_id, type FROM event_log ORDER BY 1",
}


async def snapshot(db: Db) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await db.fetch(sql)] for name, sql in TABLES.items()}

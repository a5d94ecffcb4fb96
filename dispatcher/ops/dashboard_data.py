"""The dashboard's JSON snapshot from PostgreSQL's read models (no personal data).

Open requests show community, category, urgency, ring, wait and helper counts — not the
building label: on a wall screen in a community office, "medical, building 3" can name a
household in a small building (PIPL art. 28, health data). `staff_unreached` ("whistle",
"referral" or None): that rung's pushes reached none of the staff it called, so the page
says "值班人员未联系上" rather than leave them looking called.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.record import db as pg
from dispatcher.record.db import Db, Row
from dispatcher.record.read import dashboard
from dispatcher.redact import masked


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(record: Row) -> dict[str, Any]:
    return {k: _iso(v) for k, v in record.items()}


def _closed_row(record: Row) -> dict[str, Any]:
    """A closed request: a department's name as staff typed it may hold a phone or a flat
    (read models from before it was masked at the API): masked again, for every viewer."""
    row = _row(record)
    if row.get("referred_department"):
        row["referred_department"] = masked(row["referred_department"])
    return row


def _rate(answered: int, requests: int) -> float | None:
    return round(answered / requests, 4) if requests else None


async def overview(
    conn: Db, *, limit: int = 200, communities: frozenset[str] | None = None
) -> dict[str, Any]:
    """`communities`: only these (a community's staff); None: the whole district."""
    only = sorted(communities) if communities is not None else None
    open_rows = await dashboard.open_requests(conn, limit, only)
    closed_rows = await dashboard.recently_closed(conn, 50, only)
    today_rows = [_row(r) for r in await dashboard.today_by_community(conn, only)]
    for r in today_rows:
        r["answered_rate"] = _rate(r["answered"], r["requests"])
    total = next((r for r in today_rows if r["community_id"] is None), None)
    empty = {"requests": 0, "open": 0, "answered": 0, "answered_rate": None}
    return {
        "generated_at": _iso(await pg.server_now(conn)),
        "open": [_row(r) for r in open_rows],
        "recent_closed": [_closed_row(r) for r in closed_rows],
        "today": {k: v for k, v in (total or empty).items() if k != "community_id"},
        "communities": [r for r in today_rows if r["community_id"] is not None],
    }

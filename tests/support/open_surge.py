"""A surge of open requests seeded straight into the read model (as the record agent writes
its rows): more open than the dashboard's list holds, a critical one opened last, and some
still open from two days ago. For the dashboard's open figures (integration, e2e)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

A, B = "surge-a", "surge-b"
NORMAL = 240  # normal, opened in the last minutes, one a second: n000 (oldest) … n239
OLD = 5  # urgent, opened two days ago (old0 the newest), still open
OPEN_IN_A = NORMAL + OLD + 1  # and "crit", critical, opened now
LIST_CAP = 200  # the overview's list (dispatcher/ops/dashboard_data.py)

INSERT = """
INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed, status,
                      opened_at, closed_at, outcome, last_event_id)
VALUES ($1, $2, 'errand', $3, 1, $4, $5, $6, $7, 'seeded')
"""


async def seed_surge(conn: asyncpg.Connection) -> None:
    """Community A: OPEN_IN_A open and one resolved today; community B: one open, from two
    days ago, nothing today."""
    now = await conn.fetchval("SELECT now()")
    rows: list[tuple[Any, ...]] = [
        (f"n{i:03d}", A, "normal", "open", now - timedelta(seconds=NORMAL - i), None, None)
        for i in range(NORMAL)
    ]
    rows += [
        (f"old{i}", A, "urgent", "open", now - timedelta(days=2, seconds=i), None, None)
        for i in range(OLD)
    ]
    rows.append(("crit", A, "critical", "open", now, None, None))
    rows.append(("done", A, "normal", "resolved", now, now, "resolved"))
    rows.append(("b-old", B, "low", "open", now - timedelta(days=2), None, None))
    await conn.executemany(INSERT, rows)


def expected_list() -> list[str]:
    """The capped list: most urgent first, oldest first within an urgency."""
    urgent = [f"old{i}" for i in reversed(range(OLD))]
    return ["crit", *urgent, *(f"n{i:03d}" for i in range(LIST_CAP - 1 - OLD))]

"""Session 42: `assignments` had no index by helper (its key is (request_id, helper_id)).
The personal page's held note (`presence_held`) asks for one helper's in-person assignments
accepted less than `HOLD_CAP` ago: it probed the key once per open request of the
community, 300 open requests 900 pages, however little the helper held. Migration 0411's
(helper_id, assigned_at) reads the helper's last hours only, whatever their history. On
the real PostgreSQL, EXPLAIN (ANALYZE, BUFFERS) on a populated table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg

from dispatcher.clock import utcnow
from dispatcher.core.presence import HOLD_CAP
from dispatcher.record.read import assignments as read_assignments
from schemas.vocab import EMERGENCY_SERVICES
from tests.support import stack_db

conn = stack_db.conn  # a connection to the module's namespace

COMMUNITY = "c-by-helper"
HELPER = "h-long-history"

# 20,000 requests closed over the past weeks and 300 open ones, two neighbours on each;
# HELPER on 2,000 of the closed ones and, 20 minutes ago, on one open one (in person).
_POPULATE = [
    """
    INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed,
                          status, building_label, opened_at, closed_at, last_event_id)
    SELECT 'bh-' || g, $1, 'errand', 'normal', 3,
           CASE WHEN g > 20000 THEN 'open' ELSE 'resolved' END, '3号楼',
           now() - make_interval(mins => 30 * (20300 - g) + 60),
           CASE WHEN g > 20000 THEN NULL ELSE now() - make_interval(mins => 30 * (20300 - g)) END,
           'ev'
    FROM generate_series(1, 20300) g
    """,
    """
    INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at)
    SELECT 'bh-' || g, 'bh-n-' || ((g * 7 + k * 13) % 2000), 'bh-o-' || g || '-' || k, k,
           now() - make_interval(mins => 30 * (20300 - g) + 50)
    FROM generate_series(1, 20300) g, generate_series(0, 1) k
    """,
    """
    INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at)
    SELECT 'bh-' || (g * 10), $1, 'bh-oh-' || g, 2,
           now() - make_interval(mins => 30 * (20300 - g * 10) + 50)
    FROM generate_series(1, 2000) g
    """,
    """
    INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at)
    VALUES ('bh-20150', $1, 'bh-oh-now', 2, now() - interval '20 minutes')
    """,
]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_a_helpers_holds_are_read_by_helper_not_by_every_open_request(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute(_POPULATE[0], COMMUNITY)
    await conn.execute(_POPULATE[1])
    await conn.execute(_POPULATE[2], HELPER)
    await conn.execute(_POPULATE[3], HELPER)
    await conn.execute("ANALYZE requests")
    await conn.execute("ANALYZE assignments")
    now = utcnow()
    [held] = await read_assignments.presence_held(conn, COMMUNITY, HELPER, now)
    assert now + HOLD_CAP - timedelta(minutes=21) < held.until < now + HOLD_CAP  # its cap
    args = (COMMUNITY, HELPER, now - HOLD_CAP, sorted(t.value for t in EMERGENCY_SERVICES))
    [[explained]] = await conn.fetch(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + read_assignments._HELD, *args
    )
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    reads = [n for n in _nodes(plan) if n.get("Relation Name") == "assignments"]
    pages = sum(n["Shared Hit Blocks"] + n["Shared Read Blocks"] for n in reads)
    used = {n.get("Index Name") for n in _nodes(plan)}
    # Before 0411: "Index Scan using assignments_pkey", 300 loops, some 900 pages.
    assert "assignments_helper_assigned" in used, json.dumps(plan)[:4000]
    assert pages <= 10, (pages, json.dumps(plan)[:4000])

"""Session 41 review of the held note on the helper's personal page (c2e67d8), on the real
PostgreSQL with the core's events recorded by the real projection:

(a) the note printed the raw `requests.building_label`: a label stored before the cut
    (337e6d8/8d53ec5), "综合楼五楼", was shown whole, floor and all, where every offer shows
    `place_label(None, label)`, "综合楼";
(b) `presence_held` found the referred requests that may still hold a helper in event_log by
    community and type, which no index bounds for request_referred (0380): it read every
    referral (and every event) the community ever had. It now reads referrals closed less
    than `HOLD_CAP` ago, by a partial index (0410), whatever the history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery

from dispatcher.api.helper_pages import held_note
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.record.projection import record_events
from dispatcher.record.read.assignments import presence_held
from schemas.commands import ReferRequest
from schemas.vocab import ReferralTarget, Skill
from tests.integration.test_presence_held_read_s41 import Fresh, _taken, conn  # noqa: F401
from tests.unit.conftest import COMMUNITY

HISTORY = 5000  # referrals of past days, each with its request_referred event, twice over

# The referred request `$1` and its referral event, copied `$2` times (ids `$3`-n): closed
# two days and more before, as a community's history of referrals is.
_HISTORY_SQL = """
WITH r AS (SELECT * FROM requests WHERE request_id = $1),
copies AS (
    INSERT INTO requests
    SELECT (jsonb_populate_record(NULL::requests, to_jsonb(r) || jsonb_build_object(
        'request_id', $3 || g,
        'opened_at', r.opened_at - make_interval(days => 2, mins => g),
        'closed_at', r.closed_at - make_interval(days => 2, mins => g)))).*
    FROM r, generate_series(1, $2::int) g
    RETURNING request_id, closed_at
)
INSERT INTO event_log (event_id, community_id, request_id, type, occurred_at, caused_by, body)
SELECT 'ev-' || c.request_id, e.community_id, c.request_id, e.type, c.closed_at,
       e.caused_by, e.body
FROM copies c, event_log e WHERE e.request_id = $1 AND e.type = 'request_referred'
"""


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def pages_read(db: asyncpg.Connection, query: str, args: tuple[Any, ...]) -> int:
    """The pages (table and index) `query` reads from requests and event_log, as EXPLAIN
    (ANALYZE, BUFFERS) counts them, cached or not. Sequential scans off: on a test-sized
    table the planner may prefer one; what is checked is that an index bounds the read."""
    await db.execute("ANALYZE requests")
    await db.execute("ANALYZE event_log")
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        [[explained]] = await db.fetch("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, *args)
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    return sum(
        node["Shared Hit Blocks"] + node["Shared Read Blocks"]  # its index's pages included
        for node in _nodes(plan)
        if node.get("Relation Name") in ("requests", "event_log")
    )


async def test_a_label_stored_before_the_cut_is_shown_as_offers_show_it(
    conn: asyncpg.Connection,  # noqa: F811
) -> None:
    w = Fresh()
    w.helper("hb-a", skills=[Skill.DRIVING])
    _taken(w, "hb-label", "hb-a")  # critical, to hospital: held in person
    await record_events(conn, w.events)
    # As a request recorded before 337e6d8/8d53ec5 keeps it: the floor in the building.
    await conn.execute(
        "UPDATE requests SET building_label = '综合楼五楼' WHERE request_id = 'hb-label'"
    )
    held = await presence_held(conn, COMMUNITY, "hb-a", w.now)
    assert [h.building_label for h in held] == ["综合楼五楼"]
    said = held_note(held, w.now, DEFAULT_ZONE)
    assert "您正在帮助一位邻居（综合楼）" in said, said
    assert "五楼" not in said


async def test_the_referrals_read_do_not_grow_with_the_communitys_history(
    conn: asyncpg.Connection,  # noqa: F811
) -> None:
    w = Fresh()
    w.helper("hb-b", skills=[Skill.DRIVING])
    _taken(w, "hb-120", "hb-b")
    w.later(600)
    w.run(ReferRequest(request_id="hb-120", to=ReferralTarget.AMBULANCE))
    await record_events(conn, w.events)
    await conn.execute(_HISTORY_SQL, "hb-120", HISTORY, "past-a-")

    asked: list[LoggedQuery] = []
    conn.add_query_logger(asked.append)
    try:
        held = await presence_held(conn, COMMUNITY, "hb-b", w.now)
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
    finally:
        conn.remove_query_logger(asked.append)
    assert len(held) == 1 and held[0].critical  # the referral to 120 still holds them
    [query] = asked
    before = await pages_read(conn, query.query, tuple(query.args))
    await conn.execute(_HISTORY_SQL, "hb-120", HISTORY, "past-b-")  # twice the history
    after = await pages_read(conn, query.query, tuple(query.args))
    assert await presence_held(conn, COMMUNITY, "hb-b", w.now) == held
    # The same few pages (an index one level deeper at most), not 5000 more referrals'.
    assert after <= before + 2, (before, after)

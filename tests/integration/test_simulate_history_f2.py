"""`simulate --from-db` reads each offer with its request's urgency from the real PostgreSQL,
so a helper who answers critical requests in seconds and errands in a quarter of an hour,
as the behaviour model does, is fitted as the model's average helper (ratios of 1), not
pooled into one slow delay for every urgency (review 31)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from dispatcher.record.read.history import offers_since
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.history import fit
from dispatcher.testing.stack import LocalStack
from schemas.vocab import Urgency

COMMUNITY = "fit-f2"
REQUEST = """
INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed, status,
                      opened_at, last_event_id)
VALUES ($1, $2, 'errand', $3, 1, 'resolved', $4, 'seeded')
"""
OFFER = """
INSERT INTO offers (offer_id, request_id, helper_id, ring, step, status, sent_at, answered_at)
VALUES ($1, $2, 'h-fit', 'compound', 0, $3, $4, $5)
"""


async def test_history_rows_carry_the_urgency_and_fit_as_ratios(stack: LocalStack) -> None:
    b = Behaviour()
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        # 10:00 local (UTC+8): by day, as the model's daytime numbers are.
        day = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        n = 0
        for urgency in (Urgency.CRITICAL, Urgency.NORMAL):
            answers = round(20 * b.answer_base[urgency])
            delay = timedelta(seconds=b.median_delay_s[urgency])
            for i in range(20):
                n += 1
                rid = f"fit-r{n}"
                await conn.execute(REQUEST, rid, COMMUNITY, urgency.value, day)
                status, answered = ("accepted", day + delay) if i < answers else ("expired", None)
                await conn.execute(OFFER, f"fit-o{n}", rid, status, day, answered)
        rows = await offers_since(conn, COMMUNITY, day - timedelta(hours=1))
    finally:
        await conn.close()
    assert len(rows) == 40
    assert {(r.urgency, r.ring) for r in rows} == {("critical", "compound"), ("normal", "compound")}
    propensity, pace = fit(rows, b)["h-fit"]
    assert abs(propensity - 1.0) < 1e-9
    assert pace == 1.0

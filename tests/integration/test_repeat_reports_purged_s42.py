"""Session 42: a merged report's row (`api_repeat_reports`: the two request ids, the
reporting bot, times; migration 0407) was never deleted. It is read while the request it
joined is open (a retry merged again takes its stored time, the sweeper sends it unqueued)
and to withdraw the report by its own id; once that request has been closed for the
retention (`DISPATCH_RETENTION_DAYS`, as its private row) the purge deletes it, in
`python -m dispatcher purge` (counted as `repeat_reports`) and in the API's hourly purge.
The intake rows stay: they answer 409 `request_id_taken` (README)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dispatcher.clock import utcnow
from dispatcher.record.edge import intake
from dispatcher.record.retention import purge_forever
from dispatcher.testing.stack import LocalStack
from tests.security.cli import run_json
from tests.support import intake_edge
from tests.support.waiting import eventually

COMMUNITY = "c-repeat-purge"
BOT = "bot-repeat-purge"


@pytest.fixture
async def pool(stack: LocalStack) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=4)
    assert p is not None
    try:
        yield p
    finally:
        await p.close()


async def _submit(
    db: asyncpg.Pool, request_id: str, merge_key: str | None, bot_id: str = BOT
) -> intake.Submitted:
    """The API's intake statement, as a bot's report reaches it (no idempotency key)."""
    return await intake_edge.submit(
        db,
        bot_id=bot_id,
        key=None,
        request_id=request_id,
        community_id=COMMUNITY,
        merge_key=merge_key,
    )


async def _merged(db: asyncpg.Pool, request_id: str, reports: list[str]) -> None:
    """`request_id` taken in, then each of `reports` merged into it (one row each)."""
    assert (await _submit(db, request_id, f"mk-{request_id}")).earlier is None
    for report in reports:
        assert (await _submit(db, report, f"mk-{request_id}")).earlier == request_id


async def _recorded(db: asyncpg.Pool, request_id: str, closed_ago: timedelta | None) -> None:
    """The request as the worker recorded it: open (None), or closed `closed_ago`."""
    await db.execute(
        "INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed, "
        "status, opened_at, closed_at, last_event_id) VALUES ($1, $2, 'errand', 'normal', 1, "
        "$3, now() - interval '40 days', now() - $4::interval, 'ev')",
        request_id,
        COMMUNITY,
        "open" if closed_ago is None else "resolved",
        closed_ago,
    )


async def _reports(db: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await db.fetch("SELECT request_id, report_id FROM api_repeat_reports ORDER BY 1, 2")
    return [(r["request_id"], r["report_id"]) for r in rows]


async def test_purge_forgets_merged_reports_of_requests_closed_past_the_retention(
    stack: LocalStack, pool: asyncpg.Pool
) -> None:
    await _merged(pool, "rp-old", ["rp-old-2", "rp-old-3"])  # closed 31 days ago: go
    await _merged(pool, "rp-recent", ["rp-recent-2"])  # closed yesterday: stays
    await _merged(pool, "rp-open", ["rp-open-2"])  # still open, 40 days on: stays
    await _merged(pool, "rp-never", ["rp-never-2"])  # never recorded: stays, as its intake
    await _recorded(pool, "rp-old", timedelta(days=31))
    await _recorded(pool, "rp-recent", timedelta(days=1))
    await _recorded(pool, "rp-open", None)
    assert await intake.co_report(pool, "rp-old-2") is not None  # withdrawable so far
    done = run_json(stack, "purge", "--now", (datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    assert done["repeat_reports"] == 2
    assert await _reports(pool) == [
        ("rp-never", "rp-never-2"),
        ("rp-open", "rp-open-2"),
        ("rp-recent", "rp-recent-2"),
    ]
    assert await intake.co_report(pool, "rp-old-2") is None
    # The intake rows stay: the old request's id, used again by another caller, is taken.
    assert await pool.fetchval("SELECT count(*) FROM api_intake WHERE request_id = 'rp-old'")
    assert (await _submit(pool, "rp-old", None, bot_id="bot-other")).taken
    done = run_json(stack, "purge", "--now", (datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    assert done["repeat_reports"] == 0


async def test_the_apis_hourly_purge_forgets_them_too(
    stack: LocalStack, pool: asyncpg.Pool
) -> None:
    await _merged(pool, "rp-api", ["rp-api-2"])
    await _recorded(pool, "rp-api", timedelta(days=1))
    await _merged(pool, "rp-api-open", ["rp-api-open-2"])
    await _recorded(pool, "rp-api-open", None)

    async def pool_of() -> asyncpg.Pool:
        return pool

    # The API's loop as app.py starts it, its clock 30 days on: the closed one is past.
    loop = asyncio.create_task(
        purge_forever(stack.settings(), pool_of, lambda: utcnow() + timedelta(days=30))
    )
    try:

        async def gone() -> bool:
            return ("rp-api", "rp-api-2") not in await _reports(pool)

        await eventually(gone, timeout=30, what="the hourly purge's first round")
    finally:
        loop.cancel()
    assert ("rp-api-open", "rp-api-open-2") in await _reports(pool)

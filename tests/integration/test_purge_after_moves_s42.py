"""A lowered DISPATCH_RETENTION_DAYS applies to requests already scheduled (session 42's
audit, F5), and the API's hourly purge exports its success (F4).

`purge_after` is set at the first purge after a request closed. Until session 42 the
statement set it only `WHERE purge_after IS NULL`, so after the retention was lowered
(30 -> 7 days, a stricter policy) every request closed before kept its contact the old
30 days, while one closed at the same moment but scheduled after the change was erased on
day 7. Now a `purge_after` later than the close plus the retention is moved earlier; a
raised retention moves nothing already scheduled. On a database of its own (every
migration), so the retention of 7 days touches no other test's rows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.record import retention
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at

CLOSED = datetime(2026, 11, 1, tzinfo=UTC)
BOX = json.dumps({"kid": "k", "box": "c2VhbGVk"})
LATEST = MIGRATIONS[-1][0]


async def _closed_request(db: asyncpg.Connection, request_id: str) -> None:
    """A request closed at CLOSED, its private row holding a sealed contact."""
    await db.execute(
        "INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed,"
        " status, opened_at, closed_at, last_event_id) VALUES ($1, 'c1', 'errand', 'normal',"
        " 1, 'resolved', $2, $2, 'e')",
        request_id,
        CLOSED,
    )
    await db.execute(
        "INSERT INTO request_private (request_id, sealed) VALUES ($1, $2::jsonb)",
        request_id,
        BOX,
    )


async def _private(db: asyncpg.Connection) -> dict[str, tuple[datetime, bool]]:
    """request id -> (purge_after, its box still kept)."""
    rows = await db.fetch(
        "SELECT request_id, purge_after, sealed IS NOT NULL AS kept FROM request_private"
    )
    return {r["request_id"]: (r["purge_after"], r["kept"]) for r in rows}


async def _purge(db: asyncpg.Connection, at: datetime, days: int) -> retention.Purged:
    return await retention.purge(db, at, days, signup_pending_days=30)


async def test_a_lowered_retention_moves_scheduled_requests_earlier(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, LATEST, monkeypatch) as db:
        await _closed_request(db, "r-before")
        # The hourly purge an hour after the close, the retention 30 days: scheduled.
        assert (await _purge(db, CLOSED + timedelta(hours=1), 30)).scheduled == 1
        assert (await _private(db))["r-before"] == (CLOSED + timedelta(days=30), True)
        await _closed_request(db, "r-same-time")  # closed alike, first seen after the change
        # DISPATCH_RETENTION_DAYS lowered to 7; the purge 8 days after the close erases both.
        done = await _purge(db, CLOSED + timedelta(days=8), 7)
        assert (done.scheduled, done.requests) == (2, 2)
        week = CLOSED + timedelta(days=7)
        assert await _private(db) == {"r-before": (week, False), "r-same-time": (week, False)}
        # Nothing left to move; a raised retention moves nothing already scheduled.
        assert (await _purge(db, CLOSED + timedelta(days=9), 7)).scheduled == 0
        assert (await _purge(db, CLOSED + timedelta(days=9), 30)).scheduled == 0
        assert (await _private(db))["r-before"] == (week, False)


class _OnePool:
    """ApiDeps.pool's `acquire()` over one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


async def test_the_apis_purge_exports_its_success(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {"result": "ok"}
    ok = REGISTRY.get_sample_value("dispatch_retention_purge_runs_total", runs)
    assert ok is not None
    before = time.time()
    async with database_at(stack, LATEST, monkeypatch) as db:
        await _closed_request(db, "r-api")

        async def pool_of() -> _OnePool:
            return _OnePool(db)

        loop = asyncio.create_task(
            retention.purge_forever(stack.settings(), pool_of, lambda: CLOSED + timedelta(days=31))
        )
        try:
            for _ in range(500):
                if REGISTRY.get_sample_value("dispatch_retention_purge_runs_total", runs) > ok:
                    break
                await asyncio.sleep(0.02)
        finally:
            loop.cancel()
        assert (await _private(db))["r-api"][1] is False  # erased by that run
    assert REGISTRY.get_sample_value("dispatch_retention_purge_runs_total", runs) == ok + 1
    last = REGISTRY.get_sample_value("dispatch_retention_purge_last_success_timestamp_seconds")
    assert last is not None and before <= last <= time.time()

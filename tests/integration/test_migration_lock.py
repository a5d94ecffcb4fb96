"""The migrations' lock on the real PostgreSQL: a migration run cancelled mid-statement (a
worker stopped while it starts), and again during its clean-up, leaves no lock held, so the
next process's migrations do not block; the record agent keeps no pool whose migrations did
not finish (dispatcher/record/migrate.py, streams/record_agent.py `get_pool`)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dispatcher.clock import SystemClock
from dispatcher.record import migrate
from dispatcher.testing.stack import LocalStack
from streams.dead_letter import DeadLetterSink
from streams.record_agent import RecordAgent
from streams.runtime import Stats
from tests.support.waiting import eventually

SLOW_STEP = (10**9, "9999_slow_step.sql", "SELECT pg_sleep(5)")  # rolled back: never recorded


@pytest.fixture
def slow_migration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pending migrations: the real ones (applied already) and one slow step."""
    real = migrate.migration_files()
    monkeypatch.setattr(migrate, "migration_files", lambda: [*real, SLOW_STEP])


async def cancel_in_slow_step(stack: LocalStack, run: asyncio.Task[object]) -> None:
    watcher = await asyncpg.connect(stack.pg_dsn)
    try:

        async def sleeping() -> bool:
            return bool(
                await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(5)%'"
                )
            )

        await eventually(sleeping, what="the slow migration step running")
    finally:
        await watcher.close()
    # Cancelled, and cancelled again in whatever clean-up it awaits (a stop that cancels, then
    # a stop timeout that cancels again): the clean-up cannot be counted on.
    while not run.done():
        run.cancel()
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await run


async def lock_is_free(stack: LocalStack) -> bool:
    other = await asyncpg.connect(stack.pg_dsn)
    try:
        if not await other.fetchval("SELECT pg_try_advisory_lock($1)", migrate._LOCK_KEY):
            return False
        await other.execute("SELECT pg_advisory_unlock($1)", migrate._LOCK_KEY)
        return True
    finally:
        await other.close()


async def test_a_cancelled_record_agent_start_holds_no_migration_lock(
    stack: LocalStack, slow_migration: None
) -> None:
    stats = Stats()
    agent = RecordAgent(stack.settings(), stats, DeadLetterSink("unused", stats, SystemClock()))
    try:
        await cancel_in_slow_step(stack, asyncio.ensure_future(agent.get_pool()))
        # The lock goes with the cancelled step's transaction: at once if the server got the
        # cancel, else when the statement ends and the server finds its client gone.
        await eventually(lambda: lock_is_free(stack), what="the migration lock released")
        assert agent.pool is None  # the next call migrates again
    finally:
        if agent.pool is not None:
            await agent.pool.close()


async def test_a_cancelled_migrate_holds_no_lock(stack: LocalStack, slow_migration: None) -> None:
    await cancel_in_slow_step(stack, asyncio.ensure_future(migrate.migrate(stack.settings())))
    await eventually(lambda: lock_is_free(stack), what="the migration lock released")


async def test_concurrent_runs_on_an_empty_database_apply_each_migration_once(
    stack: LocalStack,
) -> None:
    """The API and the worker starting together: the per-migration lock and re-check."""
    name = f"{stack.db}_race"
    admin = await asyncpg.connect(stack._pg("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        settings = stack.settings(pg_dsn=stack._pg(name))
        runs = await asyncio.gather(migrate.migrate(settings), migrate.migrate(settings))
        every = [n for _, n, _ in migrate.migration_files()]
        assert sorted(runs[0] + runs[1]) == sorted(every)  # each applied once, by one run
        conn = await asyncpg.connect(stack._pg(name))
        try:
            recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        finally:
            await conn.close()
        assert recorded == len(every)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

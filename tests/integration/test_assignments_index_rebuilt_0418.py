"""0411's index by helper is usable after a failed concurrent build (session 43's upgrade
audit; migration 0418).

deploy/README has a large deployment run `CREATE INDEX CONCURRENTLY IF NOT EXISTS
assignments_helper_assigned ...` before migrating. A concurrent build that fails (here a
lock_timeout: a record agent's write to `assignments` not yet committed) leaves an INVALID
index of that name; 0411's IF NOT EXISTS skipped it and was recorded as applied, and the
planner never used it. 0418 drops and builds it again when it is invalid, and leaves a
valid one as it is (no lock, nothing built). On the real PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at

INDEX = (
    "SELECT i.indexrelid::int, i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)"
)
NAME = "assignments_helper_assigned"
WRITE = (
    "INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at)"
    " VALUES ('r-1', 'h-1', 'o-1', 0, now())"
)


async def fail_a_concurrent_build(stack: LocalStack, db: asyncpg.Connection) -> None:
    """deploy/README's concurrent build, failing on a lock_timeout behind a write to
    `assignments` not yet committed (a live record agent's)."""
    database = await db.fetchval("SELECT current_database()")
    writer = await asyncpg.connect(stack._pg(database))
    builder = await asyncpg.connect(stack._pg(database))
    try:
        write = writer.transaction()
        await write.start()
        await writer.execute(WRITE)
        await builder.execute("SET lock_timeout = '1s'")
        with pytest.raises(asyncpg.exceptions.LockNotAvailableError):
            await builder.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME}"
                " ON assignments (helper_id, assigned_at)"
            )
        await write.rollback()
    finally:
        await writer.close()
        await builder.close()


async def test_an_index_left_invalid_by_a_failed_concurrent_build_is_built_again(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, 410, monkeypatch) as db:
        await fail_a_concurrent_build(stack, db)
        (_, valid) = await db.fetchrow(INDEX, NAME)
        assert valid is False  # what the failed build left

        applied = await migrate.apply_migrations(db)

        (_, valid) = await db.fetchrow(INDEX, NAME)
        assert valid is True
        definition = await db.fetchval("SELECT pg_get_indexdef(to_regclass($1))", NAME)
        assert definition.endswith("USING btree (helper_id, assigned_at)")
        # 0411 skipped the invalid index (IF NOT EXISTS); 0418 built it again.
        assert {
            "0411_assignments_by_helper.sql",
            "0418_assignments_helper_assigned_valid.sql",
        } <= set(applied)


async def test_a_valid_index_is_left_as_it_is(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, 417, monkeypatch) as db:  # 0411 built it (valid)
        before = await db.fetchrow(INDEX, NAME)
        assert before[1] is True
        assert "0418_assignments_helper_assigned_valid.sql" in await migrate.apply_migrations(db)
        assert await db.fetchrow(INDEX, NAME) == before  # the same index: not dropped, not built


IN_PROGRESS = (
    "a build of assignments_helper_assigned is in progress: wait for it to finish, then migrate"
    " again"
)
PROGRESS = "SELECT count(*) FROM pg_stat_progress_create_index WHERE index_relid = to_regclass($1)"


async def hold_a_concurrent_build(
    dsn: str, db: asyncpg.Connection
) -> tuple[asyncpg.Connection, asyncpg.Connection, asyncio.Task[str]]:
    """The operator's CREATE INDEX CONCURRENTLY, running (its index already invalid) and held
    in its wait for writers by a write to `assignments` not yet committed (a record agent's);
    returns the writer (in its transaction), the builder and the build."""
    writer = await asyncpg.connect(dsn)
    builder = await asyncpg.connect(dsn)
    await writer.execute("BEGIN")
    await writer.execute(WRITE)
    build = asyncio.create_task(
        builder.execute(f"CREATE INDEX CONCURRENTLY {NAME} ON assignments (helper_id, assigned_at)")
    )
    for _ in range(100):
        if await db.fetchval(PROGRESS, NAME):
            break
        await asyncio.sleep(0.05)
    (_, valid) = await db.fetchrow(INDEX, NAME)
    assert valid is False  # the build's index, invalid while it runs
    return writer, builder, build


async def test_a_concurrent_build_in_progress_stops_0418_and_is_not_killed(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, 0418 dropped the running build's index: its DROP queued for ACCESS EXCLUSIVE
    (reads of `assignments` waited), PostgreSQL found the deadlock with the build (which
    waits for the migration's transaction) and killed the build, and 0418 built the index
    without CONCURRENTLY."""
    async with database_at(stack, 417, monkeypatch) as db:
        dsn = stack._pg(await db.fetchval("SELECT current_database()"))
        await db.execute(f"DROP INDEX {NAME}")  # the operator's DROP INDEX CONCURRENTLY
        writer, builder, build = await hold_a_concurrent_build(dsn, db)
        reader = await asyncpg.connect(dsn)
        try:
            with pytest.raises(asyncpg.ObjectInUseError, match=IN_PROGRESS):
                await asyncio.wait_for(migrate.apply_migrations(db), 10)
            # Not recorded: the next start applies it.
            assert await db.fetchval("SELECT max(version) FROM schema_migrations") == 417
            # Nothing queued on `assignments`: a read is answered at once.
            assert await reader.fetchval("SELECT count(*) FROM assignments", timeout=2) == 0
            await asyncio.sleep(1.5)  # past deadlock_timeout (1 s): no deadlock to find
            assert not build.done()  # the operator's build still runs
            await writer.execute("COMMIT")
            await asyncio.wait_for(build, 20)  # and completes
            built = await db.fetchrow(INDEX, NAME)
            assert built[1] is True
            # Migrating again applies 0418, which finds the index valid and leaves it.
            applied = await migrate.apply_migrations(db)
            assert applied[0] == "0418_assignments_helper_assigned_valid.sql"
            assert await db.fetchrow(INDEX, NAME) == built
        finally:
            for conn in (writer, builder, reader):
                conn.terminate()


async def test_another_roles_build_in_progress_stops_0418(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator builds as an administrator, the API's init container migrates as the
    service's role: pg_stat_progress_create_index shows it the build's pid only (index_relid
    NULL without pg_read_all_stats)."""
    sql_0418 = next(sql for number, _, sql in MIGRATIONS if number == 418)
    role = f"{stack.db}_migrator_0418"
    async with database_at(stack, 417, monkeypatch) as db:
        dsn = stack._pg(await db.fetchval("SELECT current_database()"))
        await db.execute(f"DROP INDEX {NAME}")
        await db.execute(f'DROP ROLE IF EXISTS "{role}"')
        await db.execute(f'CREATE ROLE "{role}" NOLOGIN')
        writer, builder, build = await hold_a_concurrent_build(dsn, db)
        try:
            async with db.transaction():
                await db.execute(f'SET LOCAL ROLE "{role}"')
                assert await db.fetchval(PROGRESS, NAME) == 0  # it does not see index_relid
                with pytest.raises(asyncpg.ObjectInUseError, match=IN_PROGRESS):
                    await asyncio.wait_for(db.execute(sql_0418), 10)
            await asyncio.sleep(1.5)
            assert not build.done()
            await writer.execute("COMMIT")
            await asyncio.wait_for(build, 20)
            assert (await db.fetchrow(INDEX, NAME))[1] is True
        finally:
            for conn in (writer, builder):
                conn.terminate()
            await db.execute(f'DROP ROLE IF EXISTS "{role}"')


async def test_0418_waits_at_most_its_lock_timeout_for_assignments(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalid index, no build running, and a write to `assignments` that stays
    uncommitted: before, 0418's DROP waited for it as long as it lasted, and every read of
    `assignments` queued behind the DROP. Now the DROP gives up after 5 s (lock_timeout)."""
    async with database_at(stack, 417, monkeypatch) as db:
        dsn = stack._pg(await db.fetchval("SELECT current_database()"))
        await db.execute(f"DROP INDEX {NAME}")
        await fail_a_concurrent_build(stack, db)
        invalid = await db.fetchrow(INDEX, NAME)
        writer = await asyncpg.connect(dsn)
        reader = await asyncpg.connect(dsn)
        try:
            await writer.execute("BEGIN")
            await writer.execute(WRITE)
            migration = asyncio.create_task(asyncio.wait_for(migrate.apply_migrations(db), 15))
            await asyncio.sleep(1)  # the DROP queued
            started = time.monotonic()
            # A read queued behind the DROP is answered once it gives up.
            assert await reader.fetchval("SELECT count(*) FROM assignments", timeout=10) == 0
            assert time.monotonic() - started < 5.5
            with pytest.raises(asyncpg.LockNotAvailableError, match="lock_timeout"):
                await migration
            assert await db.fetchval("SELECT max(version) FROM schema_migrations") == 417
            assert await db.fetchrow(INDEX, NAME) == invalid  # nothing changed
            await writer.execute("COMMIT")
            applied = await migrate.apply_migrations(db)
            assert applied[0] == "0418_assignments_helper_assigned_valid.sql"
            assert (await db.fetchrow(INDEX, NAME))[1] is True
        finally:
            for conn in (writer, reader):
                conn.terminate()

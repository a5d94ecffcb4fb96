"""0411's index by helper is usable after a failed concurrent build (session 43's upgrade
audit; migration 0418).

deploy/README has a large deployment run `CREATE INDEX CONCURRENTLY IF NOT EXISTS
assignments_helper_assigned ...` before migrating. A concurrent build that fails (here a
lock_timeout: a record agent's write to `assignments` not yet committed) leaves an INVALID
index of that name; 0411's IF NOT EXISTS skipped it and was recorded as applied, and the
planner never used it. 0418 drops and builds it again when it is invalid, and leaves a
valid one as it is (no lock, nothing built). On the real PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import database_at

INDEX = (
    "SELECT i.indexrelid::int, i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)"
)
NAME = "assignments_helper_assigned"


async def fail_a_concurrent_build(stack: LocalStack, db: asyncpg.Connection) -> None:
    """deploy/README's concurrent build, failing on a lock_timeout behind a write to
    `assignments` not yet committed (a live record agent's)."""
    database = await db.fetchval("SELECT current_database()")
    writer = await asyncpg.connect(stack._pg(database))
    builder = await asyncpg.connect(stack._pg(database))
    try:
        write = writer.transaction()
        await write.start()
        await writer.execute(
            "INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at)"
            " VALUES ('r-1', 'h-1', 'o-1', 0, now())"
        )
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

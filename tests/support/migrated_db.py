"""A database of its own on the test stack's PostgreSQL with the migrations up to a given
one applied: what a migration test seeds as an older release left it, then migrates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.testing.stack import LocalStack

MIGRATIONS = migrate.migration_files()  # every file, read before any is left out


@asynccontextmanager
async def database_at(
    stack: LocalStack, version: int, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Connection]:
    name = f"{stack.db}_at{version:04d}"
    admin = await asyncpg.connect(stack._pg("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(stack._pg(name))
        try:
            with monkeypatch.context() as patch:
                older = [m for m in MIGRATIONS if m[0] <= version]
                patch.setattr(migrate, "migration_files", lambda: older)
                await migrate.apply_migrations(conn)
            assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == version
            yield conn
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

"""A database of its own on the test stack's PostgreSQL with the migrations up to a given
one applied: what a migration test seeds as an older release left it, then migrates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

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


async def log_events(
    db: asyncpg.Connection,
    rows: Mapping[str, tuple[str, dict[str, Any]]],
    at: datetime,
    community_id: str,
) -> None:
    """`event_log` rows of request r-1 as an older record agent wrote them: event id →
    (type, body)."""
    for event_id, (kind, body) in rows.items():
        await db.execute(
            "INSERT INTO event_log (event_id, community_id, request_id, type, occurred_at,"
            " caused_by, body) VALUES ($1, $2, 'r-1', $3, $4, 'cmd', $5::jsonb)",
            event_id,
            community_id,
            kind,
            at,
            json.dumps(body, ensure_ascii=False),
        )


async def log_bodies(db: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    """Every `event_log` body by event id."""
    rows = await db.fetch("SELECT event_id, body FROM event_log")
    return {r["event_id"]: json.loads(r["body"]) for r in rows}

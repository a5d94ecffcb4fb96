"""What every read model and edge store function takes: a pool or one connection (both
answer the same calls)."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection
Row: TypeAlias = dict[str, Any]


async def ping(db: Db) -> None:
    """PostgreSQL answers (readiness)."""
    await db.fetchval("SELECT 1")


async def server_now(db: Db) -> Any:
    """The database's clock: the dashboard's "as of", consistent with its `now()` windows."""
    return await db.fetchval("SELECT now()")

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


async def keep_session(conn: asyncpg.Connection) -> None:
    """A pool's `reset` for callers that leave no session state behind (no SET, LISTEN,
    cursors or session locks held past their call): released connections skip asyncpg's
    default reset query (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlock), a round trip
    per release. asyncpg still rolls back an open transaction before calling it."""

"""The worker's pools skip asyncpg's reset query on release (`dispatcher.record.db.keep_session`),
on the real PostgreSQL: a connection released inside a transaction still comes back out of it
(asyncpg rolls it back), while session settings are kept, which is why the code using these
pools must not leave any (no SET, LISTEN, cursors, session locks)."""

from __future__ import annotations

import asyncpg

from dispatcher.record.db import keep_session
from dispatcher.testing.stack import LocalStack


async def test_a_released_connection_leaves_its_transaction_not_its_session(
    stack: LocalStack,
) -> None:
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=1, reset=keep_session)
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("SET application_name = 'kept'")
            await conn.execute("BEGIN")  # left open, as a failed step would
            await conn.execute("CREATE TEMP TABLE left_open (x int) ON COMMIT DROP")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same session
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            # No RESET ALL ran: what a caller sets outlives its call.
            assert await conn.fetchval("SHOW application_name") == "kept"
    finally:
        await pool.close()

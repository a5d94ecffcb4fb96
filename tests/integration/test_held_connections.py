"""The intake statement's held connections (`api/held_connections.py`) on the real
PostgreSQL: kept between statements, never more than `keep` idle, a failed or cancelled
statement's connection back to the pool, a connection the server closed replaced, and all
given back before the pool closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dispatcher.api.held_connections import HeldConnections, usable
from dispatcher.testing.stack import LocalStack


@pytest.fixture
async def pool(stack: LocalStack) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=3)
    try:
        yield p
    finally:
        p.terminate()


def held(pool: asyncpg.Pool, keep: int = 2) -> HeldConnections:
    async def get() -> asyncpg.Pool:
        return pool

    return HeldConnections(get, keep)


async def backend(db: HeldConnections) -> int:
    return int((await db.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"])


async def test_one_connection_serves_statement_after_statement(pool: asyncpg.Pool) -> None:
    db = held(pool)
    pids = {await backend(db) for _ in range(5)}
    assert len(pids) == 1
    await db.close()
    await asyncio.wait_for(pool.close(), 30)  # a hang guard: close waits for held ones


async def test_at_most_keep_idle_and_the_rest_back_in_the_pool(pool: asyncpg.Pool) -> None:
    db = held(pool, keep=1)
    sleepers = [db.fetchrow("SELECT pg_sleep(0.05), pg_backend_pid() AS pid") for _ in range(3)]
    assert len({r["pid"] for r in await asyncio.gather(*sleepers)}) == 3  # the pool's size
    # One kept, two back in the pool: the pool can still lend two.
    a, b = await pool.acquire(), await pool.acquire()
    await pool.release(a)
    await pool.release(b)
    await db.close()
    await asyncio.wait_for(pool.close(), 30)


async def test_a_failed_statement_gives_its_connection_back(pool: asyncpg.Pool) -> None:
    db = held(pool)
    await backend(db)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await db.fetchrow("SELECT 1 / 0")
    # Not kept: the next statement takes one from the pool (maybe the same, reset there).
    assert await backend(db) > 0
    task = asyncio.create_task(db.fetchrow("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backend(db) > 0  # a cancelled statement's connection was not reused as is
    await db.close()
    await asyncio.wait_for(pool.close(), 30)


async def test_a_connection_the_server_closed_is_replaced(
    pool: asyncpg.Pool, stack: LocalStack
) -> None:
    db = held(pool)
    pid = await backend(db)
    admin = await asyncpg.connect(stack.pg_dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    for _ in range(500):  # until the client has seen the socket close
        await asyncio.sleep(0.02)
        if not any(usable(c) for c in db._idle):
            break
    assert await backend(db) != pid

"""A PostgreSQL connection to the module's namespace, without its worker or API (the `db`
fixture of tests/conftest.py needs a module's `api`): a module takes it as its own fixture,
`conn = stack_db.conn`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dispatcher.testing.stack import LocalStack


@pytest.fixture
async def conn(stack: LocalStack) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(stack.pg_dsn)
    try:
        yield c
    finally:
        await c.close()

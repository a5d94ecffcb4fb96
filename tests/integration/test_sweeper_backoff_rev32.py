"""The unrecorded sweeper backs off per row (review 32, chaos run): with the worker merely
behind, every 5 s pass re-sent every waiting request older than the 30 s grace - 28,593
re-sends for 9,282 requests in 7.5 minutes, onto the very backlog the worker was working
through. A stored command is now due at the grace, then each time its age has doubled."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dispatcher.bench.record import _drop_db, _fresh_db
from dispatcher.record.edge import intake, link_uses
from dispatcher.testing.stack import LocalStack

GRACE = 2.0  # seconds


@pytest.fixture
async def conn(stack: LocalStack) -> AsyncIterator[asyncpg.Connection]:
    name = f"test_backoff_{uuid.uuid4().hex[:8]}"
    c = await asyncpg.connect(await _fresh_db(stack.pg_dsn, name))
    try:
        yield c
    finally:
        await c.close()
        await _drop_db(stack.pg_dsn, name)


async def _due_requests(conn: asyncpg.Connection) -> set[str]:
    async with conn.transaction():
        return {r.request_id for r in await intake.unrecorded(conn, GRACE, 20)}


async def _due_answers(conn: asyncpg.Connection) -> set[str]:
    async with conn.transaction():
        return {r.use_key for r in await link_uses.unapplied(conn, GRACE, 20)}


async def test_a_waiting_request_is_resent_at_the_grace_then_as_its_age_doubles(
    conn: asyncpg.Connection,
) -> None:
    # (request, seconds old, times re-sent): due once older than GRACE × 2^resent.
    rows = [("r-new", 1, 0), ("r-first", 3, 0), ("r-twice", 7, 2), ("r-soon", 7, 3)]
    rows += [("r-late", 17, 3), ("r-capped", 10_000, 20)]
    for rid, age, resent in rows:
        await conn.execute(
            "INSERT INTO api_intake (request_id, community_id, command, resent, opened_at)"
            " VALUES ($1, 'c1', '{}'::jsonb, $3, now() - make_interval(secs => $2))",
            rid,
            float(age),
            resent,
        )
    assert await _due_requests(conn) == {"r-first", "r-late"}


async def test_a_volunteers_answer_backs_off_alike(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO requests (request_id, community_id, category, urgency, status,"
        " helpers_needed, opened_at, last_event_id) VALUES ('q1', 'c1', 'errand', 'normal',"
        " 'open', 1, now(), 'e0')"
    )
    for key, age, resent in [("accept:o1", 3, 0), ("accept:o2", 7, 2), ("accept:o3", 17, 3)]:
        await conn.execute(
            "INSERT INTO api_link_uses (use_key, command_id, action, request_id, offer_id,"
            " helper_id, used_at, resent) VALUES ($1, $1, 'accept', 'q1', $1, 'h1',"
            " now() - make_interval(secs => $2), $3)",
            key,
            float(age),
            resent,
        )
    assert await _due_answers(conn) == {"accept:o1", "accept:o3"}

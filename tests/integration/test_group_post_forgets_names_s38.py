"""A helper's name for the asking group is never in PostgreSQL in the clear (session 38
audit): the group loop opens the name box in memory only, and its post "一位邻居（林阿姨）
已接单…" was recorded in `api_group_posts.body` in the clear before sending and kept there,
sent, until the purge two days later. Now a post naming a helper is recorded sealed (bound
to its own post), opened again only to be sent (also by the sweeper after a failed send),
and any post's text is emptied once sent; migration 0402 empties the text of posts sent
before. The real GroupReplies and `group_threads` on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from dispatcher.groupchat import loop as loop_module
from dispatcher.groupchat.loop import GroupReplies
from dispatcher.record import migrate
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from dispatcher.sealing import KeyRing
from dispatcher.testing.stack import LocalStack
from schemas.events import Event, RequestResolved
from schemas.vocab import Party
from tests.support import group_posts
from tests.support.group_posts import FlakyRobot, drained, named_assignment
from tests.support.group_posts import loop_on as group_loop
from tests.support.migrated_db import MIGRATIONS, database_at

NAME = "林阿姨"
NAMED_TEXT = f"一位邻居（{NAME}）已接单，正在赶来。"
KEYS = KeyRing("contact-key-" + "c" * 32, [], "helper-id-key-" + "i" * 32)
THREAD = Thread("r-named", "bot", "g1")


def assigned(request_id: str = THREAD.request_id) -> Event:
    return named_assignment(
        KEYS, NAME, request_id=request_id, event_id=f"as-{request_id}", caused_by="cmd-offer"
    )


def resolved(request_id: str = THREAD.request_id) -> Event:
    return Event(
        event_id=f"res-{request_id}",
        community_id="c",
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        caused_by="cmd-resolve",
        body=RequestResolved(by=Party.STAFF, helper_ids=("h1",), duration_s=60),
    )


pool = group_posts.pool  # api_group_posts and api_group_threads emptied first


def loop_on(pool: asyncpg.Pool, robot: FlakyRobot, keys: KeyRing | None = KEYS) -> GroupReplies:
    return group_loop(pool, robot, keys=keys)


async def rows(pool: asyncpg.Pool) -> list[dict[str, object]]:
    """Every post, each column as PostgreSQL holds it (as text)."""
    found = await pool.fetch(
        "SELECT post_key, body, sealed_body::text AS sealed_body, sent_at IS NOT NULL AS sent, "
        "row_to_json(p)::text AS whole FROM api_group_posts p ORDER BY post_key"
    )
    return [dict(r) for r in found]


async def test_a_named_post_is_sealed_while_pending_and_forgotten_once_sent(
    pool: asyncpg.Pool,
) -> None:
    await threads.record(pool, THREAD, "u1")
    robot = FlakyRobot()
    g = loop_on(pool, robot)
    try:
        await g.handle([assigned(), resolved()])
        await drained(g)
    finally:
        await g.close()
    assert robot.sent == [NAMED_TEXT, "求助已解决，谢谢各位邻居！"]  # the group hears the name
    posts = await rows(pool)
    assert [(p["post_key"], p["sent"]) for p in posts] == [
        ("as-r-named:bot:g1", True),
        ("res-r-named:bot:g1", True),
    ]
    assert all(p["body"] is None and p["sealed_body"] is None for p in posts), posts
    assert not any(NAME in str(p["whole"]) for p in posts), posts


async def test_a_named_post_whose_send_failed_is_sent_by_the_sweeper_from_its_box(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backoff no stall of the test can outlast; its end is then brought forward in SQL.
    monkeypatch.setattr(loop_module, "RETRY_BASE_S", 60.0)
    await threads.record(pool, THREAD, "u1")
    robot = FlakyRobot(failures=1)
    g = loop_on(pool, robot)
    try:
        await g.handle([assigned()])
        await drained(g)
        assert robot.sent == []
        (pending,) = await rows(pool)
        assert not pending["sent"] and pending["body"] is None
        assert pending["sealed_body"] is not None and NAME not in str(pending["whole"])
        moved = await pool.execute(
            "UPDATE api_group_posts SET lease_until = now() WHERE sent_at IS NULL"
        )
        assert moved == "UPDATE 1", moved
        assert await g.sweep() == 1  # read back, opened in memory, sent
        await drained(g)
    finally:
        await g.close()
    assert robot.sent == [NAMED_TEXT]
    (sent,) = await rows(pool)
    assert sent["sent"] and sent["body"] is None and sent["sealed_body"] is None


async def test_a_box_moved_to_another_post_does_not_open_and_is_not_sent(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The box is bound to its post's key: copied into another post it is not sent (nor
    anything else in its place)."""
    monkeypatch.setattr(loop_module, "RETRY_BASE_S", 60.0)
    await threads.record(pool, THREAD, "u1")
    robot = FlakyRobot(failures=1)
    g = loop_on(pool, robot)
    try:
        await g.handle([assigned()])
        await drained(g)
        await pool.execute(
            "UPDATE api_group_posts SET post_key = 'other:bot:g1', lease_until = now() "
            "WHERE sent_at IS NULL"
        )
        assert await g.sweep() == 0
        await drained(g)
    finally:
        await g.close()
    assert robot.sent == []


async def test_an_unnamed_post_keeps_its_text_only_until_sent(pool: asyncpg.Pool) -> None:
    """Without a contact key the name cannot be opened: the group is told "一位邻居", and
    the text is kept plain while pending, then emptied like every sent post's."""
    await threads.record(pool, THREAD, "u1")
    robot = FlakyRobot(failures=1)
    g = loop_on(pool, robot, keys=None)
    try:
        await g.handle([assigned()])
        await drained(g)
        (pending,) = await rows(pool)
        assert pending["body"] == "一位邻居已接单，正在赶来。" and pending["sealed_body"] is None
    finally:
        await g.close()
    lease = await pool.fetchval("SELECT lease FROM api_group_posts")
    await threads.mark_sent(pool, "as-r-named:bot:g1", str(lease))
    (sent,) = await rows(pool)
    assert sent["sent"] and sent["body"] is None


async def test_the_sweeper_purges_old_posts_and_threads_while_no_event_arrives(
    pool: asyncpg.Pool,
) -> None:
    """The purge ran only when the loop handled an event: in a quiet week nothing went."""
    await threads.record(pool, THREAD, "u1")
    await threads.record(pool, Thread("r-new", "bot", "g1"), "u2")
    await pool.execute(
        "INSERT INTO api_group_posts (post_key, request_id, bot_id, group_id, body, sent_at, "
        "posted_at) VALUES ('old', 'r-named', 'bot', 'g1', $1, now(), now() - interval '3 days')",
        NAMED_TEXT,
    )
    await pool.execute(
        "UPDATE api_group_threads SET created_at = now() - interval '8 days' "
        "WHERE request_id = 'r-named'"
    )
    g = loop_on(pool, FlakyRobot())
    try:
        assert await g.sweep() == 0
    finally:
        await g.close()
    assert await pool.fetchval("SELECT count(*) FROM api_group_posts") == 0
    left = await pool.fetch("SELECT request_id FROM api_group_threads")
    assert [r["request_id"] for r in left] == ["r-new"]


@pytest.fixture
async def db_before_0402(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Connection]:
    async with database_at(stack, max(m[0] for m in MIGRATIONS if m[0] < 402), monkeypatch) as c:
        yield c


async def test_0402_empties_the_text_of_posts_sent_before(
    db_before_0402: asyncpg.Connection,
) -> None:
    db = db_before_0402
    for key, sent in (("sent", True), ("pending", False)):
        await db.execute(
            "INSERT INTO api_group_posts (post_key, request_id, bot_id, group_id, body, sent_at) "
            "VALUES ($1, 'r', 'bot', 'g', $2, CASE WHEN $3 THEN now() END)",
            key,
            NAMED_TEXT,
            sent,
        )
    await migrate.apply_migrations(db)
    found = await db.fetch("SELECT post_key, body, sealed_body FROM api_group_posts")
    assert {r["post_key"]: (r["body"], r["sealed_body"]) for r in found} == {
        "sent": (None, None),
        "pending": (NAMED_TEXT, None),  # still to be sent (the sweeper reads it)
    }
    migration = next(m for m in MIGRATIONS if m[0] == 402)
    assert migration[1] == "0402_group_posts_forget_bodies.sql"

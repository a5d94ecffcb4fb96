"""Chat-group threads (the asker's platform user id, the reply channel) and posts are
deleted by the retention purge (`python -m dispatcher purge`, hourly in every API), not only
by the group loop, which runs only on an API with a platform bot configured: with the bots
removed, their rows were kept for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from dispatcher.testing.stack import LocalStack
from tests.security.cli import run_json
from tests.support import group_posts

pool = group_posts.pool  # api_group_posts and api_group_threads emptied first


async def test_the_retention_purge_deletes_old_group_threads_and_posts(
    stack: LocalStack, pool: asyncpg.Pool
) -> None:
    await threads.record(pool, Thread("r-old", "bot", "g1"), "u-old")
    await threads.record(pool, Thread("r-new", "bot", "g1"), "u-new")
    await pool.execute(
        "INSERT INTO api_group_posts (post_key, request_id, bot_id, group_id, body, posted_at) "
        "VALUES ('p-old', 'r-old', 'bot', 'g1', NULL, now() - interval '3 days'), "
        "       ('p-new', 'r-new', 'bot', 'g1', '已通知3位邻居', now() - interval '1 day')"
    )
    await pool.execute(
        "UPDATE api_group_threads SET created_at = now() - interval '8 days' "
        "WHERE request_id = 'r-old'"
    )
    # No API, no group loop: the command alone, at the present time.
    now = datetime.now(UTC) + timedelta(seconds=1)
    done = run_json(stack, "purge", "--now", now.isoformat())
    assert (done["group_posts"], done["group_threads"]) == (1, 1)
    posts = await pool.fetch("SELECT post_key FROM api_group_posts")
    assert [r["post_key"] for r in posts] == ["p-new"]
    left = await pool.fetch("SELECT request_id, sender_id FROM api_group_threads")
    assert [(r["request_id"], r["sender_id"]) for r in left] == [("r-new", "u-new")]
    again = run_json(stack, "purge", "--now", now.isoformat())
    assert (again["group_posts"], again["group_threads"]) == (0, 0)

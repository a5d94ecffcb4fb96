"""The request's place on the raising group's thread (migration 0419), on the real
PostgreSQL: recorded as ids only, kept as first recorded (a platform's re-send, a co-report
in the same group), none for a co-report's own thread or a row from before (the loop then
reads the group's live place). See tests/unit/test_group_whistle_place_s43.py for what the
group is told from it."""

from __future__ import annotations

import json

import asyncpg

from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from schemas.places import PlacePath
from tests.support import group_posts

pool = group_posts.pool  # api_group_posts and api_group_threads emptied first

RAISED = PlacePath(
    community_id="c",
    grid_id="g2",
    compound_id="tuqiang",
    building_id="b3",
    unit="2",
    floor=5,
    household_id="hh-requester",
    compound_name="图强小区",
    building_name="3号楼",
)


async def test_the_raising_thread_keeps_the_place_ids_first_recorded(pool: asyncpg.Pool) -> None:
    raised = Thread("r-place", "bot", "g1", place=RAISED)
    await threads.record(pool, raised, "resident-1")
    # The platform re-sends the message after the group was re-pointed to grid g1: the
    # request is still where it was raised.
    moved = RAISED.model_copy(update={"grid_id": "g1"})
    await threads.record(pool, Thread("r-place", "bot", "g1", place=moved), "resident-1")
    await threads.record(pool, Thread("r-place", "bot", "g2"), "co:resident-2")  # co-report
    found = await threads.for_requests(pool, ["r-place"])
    by_group = {t.group_id: t.place for t in found["r-place"]}
    assert by_group == {
        "g1": PlacePath(community_id="c", grid_id="g2", compound_id="tuqiang", building_id="b3"),
        "g2": None,
    }
    stored = await pool.fetchval(
        "SELECT request_place::text FROM api_group_threads WHERE group_id = 'g1'"
    )
    kept = {k for k, v in json.loads(stored).items() if v is not None}
    assert kept == {"community_id", "grid_id", "compound_id", "building_id"}, stored


async def test_a_thread_recorded_before_0419_reads_no_place(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id) "
        "VALUES ('r-old', 'bot', 'g1', 'resident-1')"
    )
    [old] = (await threads.for_requests(pool, ["r-old"]))["r-old"]
    assert old.place is None

"""Session 42: the held note on the helper's personal page ("最晚到…") names the request's
end as it is now, not as it was opened. A whistle blown too late for its own wait (a
deadline decided after an outage, near the end) moves the request's `ends_at` later
(README "deadlines are data"), and the core's hold on the helper with it; the read model
kept the end as opened (`RequestOpened.ends_at`), so the note said the hold ended while the
core still held the helper. On the real PostgreSQL, the core's events recorded by the real
projection: the read model's holds are the core's."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from dispatcher.api.helper_pages import held_note
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.record.read.assignments import presence_held
from schemas.commands import ClaimRequest, FireDeadline
from schemas.vocab import Skill
from tests.integration.test_presence_held_read_s41 import Fresh, _taken, agree
from tests.support import stack_db
from tests.unit.conftest import COMMUNITY

conn = stack_db.conn  # a connection to the module's namespace


def _late_whistle(w: Fresh, rid: str, helper_id: str, *, claimed: bool = False) -> None:
    """A critical ride to hospital for two: `helper_id` takes one seat, the other stays
    open; the ladder's next deadline is decided a minute before the end (the worker was
    down), so it climbs to the whistle then, and the end moves to the whistle's wait and
    the referral rung's after it."""
    w.helper(helper_id, skills=[Skill.DRIVING])
    w.helper(f"{helper_id}-2", skills=[Skill.DRIVING])
    _taken(w, rid, helper_id, helpers_needed=2)
    if claimed:  # staff took it on: the whistle calls nobody and no `whistle_blown` is told
        w.run(ClaimRequest(request_id=rid, by="staff-1"))
    r = w.request(rid)
    opened_end = r.ends_at
    w.now = opened_end - timedelta(seconds=60)
    assert r.deadline_step is not None
    w.run(FireDeadline(request_id=rid, step=r.deadline_step))
    # The whistle (120 s) and the referral (900 s) from now: 16 min past the end as opened.
    assert w.request(rid).ends_at == w.now + timedelta(seconds=120 + 900)


async def test_a_late_whistle_moves_the_end_the_note_names(conn: asyncpg.Connection) -> None:
    w = Fresh()
    _late_whistle(w, "hm-late", "hm-a")
    moved = w.request("hm-late").ends_at
    # The old read: the end as opened, a minute away (the core holds the helper 16 more).
    [(until, critical)] = await agree(conn, w, "hm-a")
    assert critical and until == moved
    held = await presence_held(conn, COMMUNITY, "hm-a", w.now)
    local = moved.astimezone(DEFAULT_ZONE)
    assert f"最晚到今天{local:%H:%M}" in held_note(held, w.now, DEFAULT_ZONE)
    # Past the end as opened, before the moved one: still held, and said so.
    w.later(5 * 60)
    assert await agree(conn, w, "hm-a") == [(moved, True)]


async def test_a_late_whistle_on_a_request_staff_claimed_moves_it_too(
    conn: asyncpg.Connection,
) -> None:
    w = Fresh()
    _late_whistle(w, "hm-claimed", "hm-b", claimed=True)
    assert not w.of_type("whistle_blown")  # only the climb to its rung is told
    assert await agree(conn, w, "hm-b") == [(w.request("hm-claimed").ends_at, True)]

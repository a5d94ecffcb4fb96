"""A chore whose ladder is paused for the community's quiet hours (`RequestPaused`), on the
dashboard in a real headless Chromium (session 40): its row says 静默时段暂停 至 07:00, not
等待响应 (as if neighbours were being asked now); a pause whose end has passed (the ladder
went on) reads as any open request again; a paused chore whose offer already out was accepted
in the night reads 已接单, not paused (paused only while slots are open). Rows seeded straight
into the read model, as the record agent writes them (migration 0406's columns)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg

from dispatcher.testing.stack import LocalStack
from tests.e2e.dashboard_page import row, signed_in
from tests.support.waiting import eventually

INSERT = """
INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed, status,
                      opened_at, last_event_id, paused_until, paused_local, helpers_assigned)
VALUES ($1, 'quiet-c', 'errand', 'normal', $5, 'open', $2, 'seeded', $3, $4, $6)
"""


async def test_a_paused_chore_reads_paused_until_the_quiet_hours_end(
    stack: LocalStack, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        now = await conn.fetchval("SELECT now()")
        until = now + timedelta(hours=8)
        await conn.execute(INSERT, "paused", now, until, "07:00", 1, 0)
        await conn.execute(INSERT, "went-on", now, now - timedelta(minutes=1), "07:00", 1, 0)
        # An offer already out accepted during the pause: covered, nobody left to ask.
        await conn.execute(INSERT, "covered", now, until, "07:00", 1, 1)
        # One of two slots taken: still a slot open, so the pause is still news.
        await conn.execute(INSERT, "half", now, until, "07:00", 2, 1)
    finally:
        await conn.close()
    async with signed_in(stack, tmp_path) as browser:

        async def shown(request_id: str) -> list[str] | None:
            found: list[str] | None = await browser.evaluate(
                f"(() => {{ const r = {row(request_id)};"
                " return r && [r.dataset.status, r.querySelector('td[class^=st-]').textContent];"
                " })()"
            )
            return found

        assert await eventually(lambda: shown("paused"), what="the paused row") == [
            "paused",
            "静默时段暂停 至 07:00",
        ]
        assert await shown("went-on") == ["open", "等待响应"]
        assert await shown("covered") == ["assigned", "已接单"]
        assert await shown("half") == ["paused", "静默时段暂停 至 07:00"]

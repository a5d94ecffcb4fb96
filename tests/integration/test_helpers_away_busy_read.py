"""Away and busy reach the helpers read model (0397) on both recording paths, so the team
checklist (`read.team_members.active_members`) can leave such members out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dispatcher.bench.record import _drop_db, _fresh_db
from dispatcher.record.projection import record_events
from dispatcher.record.read.team_members import active_members
from dispatcher.testing.stack import LocalStack
from schemas.events import Event, HelperUpdated

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _update(n: int, helper: str, *, away: bool = False, busy: bool = False) -> Event:
    return Event(
        event_id=f"upd-{helper}-{n}",
        community_id="c1",
        request_id=None,
        occurred_at=T0 + timedelta(seconds=n),
        caused_by=f"cmd-{helper}-{n}",
        body=HelperUpdated(helper_id=helper, active=True, away=away, busy=busy, teams=("t1",)),
    )


@pytest.mark.parametrize("bulk", [False, True])
async def test_away_and_busy_are_recorded_and_cleared(stack: LocalStack, bulk: bool) -> None:
    name = f"test_away_{uuid.uuid4().hex[:8]}"
    dsn = await _fresh_db(stack.pg_dsn, name)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            first = [_update(1, "h1"), _update(2, "h2", away=True), _update(3, "h3", busy=True)]
            await record_events(conn, first, bulk=bulk)
            got = {m.helper_id: m.available for m in await active_members(conn, "c1", "t1")}
            assert got == {"h1": True, "h2": False, "h3": False}
            back = [_update(4, "h2"), _update(5, "h3"), _update(6, "h1", busy=True)]
            await record_events(conn, back, bulk=bulk)
            got = {m.helper_id: m.available for m in await active_members(conn, "c1", "t1")}
            assert got == {"h1": False, "h2": True, "h3": True}
        finally:
            await conn.close()
    finally:
        await _drop_db(stack.pg_dsn, name)

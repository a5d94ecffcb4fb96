"""Session 38 (audit_record): time to first accept counts from when anyone was first asked.
A normal request that comes in during the community's quiet hours is held: nobody is asked
until they end. The month report and the dashboard measured first_accept_at - opened_at, so
a request opened at 20:00, released at 07:00 and accepted at 07:05 read 11 h 05 min, not
5 min: the neighbours looked slow. The record now keeps the release (`requests.released_at`,
migration 0401) and both figures count from it, or from the offer a staff-called team got
while the request was held when that came first (that team's accept can precede the
release: counted from the release it would be negative).

The events are the core's own (tests/unit/conftest.py `World`, quiet hours 19:00-07:00 in
Shanghai), recorded on the real PostgreSQL through `record_events`: as one batch (the
set-based writers) and recorded again (a replay), or event by event with each event sent
twice in its batch and then once more (the per-event writers, and replays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dispatcher.ops.reports import month_report
from dispatcher.record import migrate
from dispatcher.record.projection import record_events
from dispatcher.record.read.dashboard import today_by_community
from dispatcher.stats import nearest_rank
from dispatcher.testing.stack import LocalStack
from schemas.events import Event
from tests.support import stack_db
from tests.support.local_day import one_local_day
from tests.support.migrated_db import database_at
from tests.support.quiet_night import EVENING, LOCAL, WAITS, a_quiet_night

conn = stack_db.conn  # a connection to the module's namespace


def _releases(events: list[Event]) -> dict[str, datetime | None]:
    """Each request's release as its event says (None: never released)."""
    times = {e.request_id: e.occurred_at for e in events if e.body.type == "request_released"}
    return {e.request_id or "": times.get(e.request_id) for e in events if e.request_id}


async def _expect(conn: asyncpg.Connection, c: str, events: list[Event]) -> None:
    rows = await conn.fetch(
        "SELECT request_id, released_at FROM requests WHERE community_id = $1", c
    )
    released = {r["request_id"]: r["released_at"] for r in rows}
    assert released == _releases(events)
    assert released[f"{c}/night"] is not None and released[f"{c}/filled"] is None
    report = await month_report(conn, c, "2024-03")
    days = {d["day"]: d for d in report.days}
    evening = [WAITS[k] for k in EVENING]
    assert days["2024-03-05"]["answered"] == len(EVENING)
    assert days["2024-03-05"]["ttfa_median_s"] == nearest_rank(evening, 0.5)
    assert days["2024-03-05"]["ttfa_p90_s"] == nearest_rank(evening, 0.9)
    assert days["2024-03-06"]["ttfa_median_s"] == WAITS["day"]
    every = list(WAITS.values())
    assert report.total["ttfa_median_s"] == nearest_rank(every, 0.5)  # 300, not 11 h 05 min
    assert report.total["ttfa_p90_s"] == nearest_rank(every, 0.9)  # 600, never negative


async def test_the_month_report_counts_a_held_request_from_its_release(
    conn: asyncpg.Connection,
) -> None:
    events = a_quiet_night("ttfa-batch")
    assert await record_events(conn, events) == len(events)
    assert await record_events(conn, events) == 0  # replayed: nothing changes
    await _expect(conn, "ttfa-batch", events)


async def test_event_by_event_and_replayed_the_same(conn: asyncpg.Connection) -> None:
    events = a_quiet_night("ttfa-single")
    for e in events:  # each alone: the per-event writers; twice in its batch, then again
        assert await record_events(conn, [e, e]) == 1
        assert await record_events(conn, [e]) == 0
    await _expect(conn, "ttfa-single", events)


async def test_the_dashboard_counts_a_held_request_from_its_release(
    conn: asyncpg.Connection,
) -> None:
    await one_local_day(120)  # "today" is read below, by PostgreSQL's clock
    now = datetime.now(UTC)
    local = now.astimezone(LOCAL)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Today's 20:00 (local): if that is still ahead, the timeline runs in the future (the
    # dashboard reads requests opened today, whenever their later events are dated).
    start = (midnight + timedelta(hours=20)).astimezone(UTC)
    c = "ttfa-dash"
    events = a_quiet_night(c, start)
    # Only the requests opened today count: drop the next day's one.
    await record_events(conn, [e for e in events if e.request_id != f"{c}/day"])
    (row,) = [r for r in await today_by_community(conn, [c]) if r["community_id"] == c]
    evening = [WAITS[k] for k in EVENING]
    assert row["answered"] == len(EVENING)
    assert row["ttfa_p50"] == pytest.approx(nearest_rank(evening, 0.5), abs=1e-6)
    assert row["ttfa_p90"] == pytest.approx(nearest_rank(evening, 0.9), abs=1e-6)
    assert row["ttfa_p99"] == pytest.approx(nearest_rank(evening, 0.99), abs=1e-6)


async def test_0401_reads_earlier_releases_from_the_log(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests released before migration 0401 get their first release from the log; the
    others none; a second run of its backfill changes nothing."""
    opened = datetime(2026, 11, 10, 15, tzinfo=UTC)  # 23:00 in Shanghai
    release = opened + timedelta(hours=8)
    async with database_at(stack, 399, monkeypatch) as db:
        for rid in ("held", "twice", "plain"):
            await db.execute(
                "INSERT INTO requests (request_id, community_id, category, urgency,"
                " helpers_needed, status, opened_at, last_event_id)"
                " VALUES ($1, 'c-0401', 'errand', 'normal', 1, 'open', $2, 'e')",
                rid,
                opened,
            )
        log = [  # (event id, request, type, time)
            ("e1", "held", "request_released", release),
            ("e2", "twice", "request_released", release + timedelta(minutes=1)),
            ("e3", "twice", "request_released", release),  # logged later, happened first
            ("e4", "plain", "offers_sent", opened),
        ]
        for event_id, rid, kind, at in log:
            await db.execute(
                "INSERT INTO event_log (event_id, community_id, request_id, type, occurred_at,"
                " caused_by, body) VALUES ($1, 'c-0401', $2, $3, $4, 'cmd', '{}'::jsonb)",
                event_id,
                rid,
                kind,
                at,
            )
        await migrate.apply_migrations(db)  # 0401 and whatever came after
        query = "SELECT request_id, released_at FROM requests ORDER BY 1"
        after = {r["request_id"]: r["released_at"] for r in await db.fetch(query)}
        assert after == {"held": release, "twice": release, "plain": None}
        (sql,) = [s for n, _, s in migrate.migration_files() if n == 401]
        await db.execute(sql.split("ALTER TABLE requests ADD COLUMN released_at timestamptz;")[1])
        assert {r["request_id"]: r["released_at"] for r in await db.fetch(query)} == after

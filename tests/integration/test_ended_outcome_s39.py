"""A request a helper took but nobody said was done, closed by the end of its lifetime, is
not counted as resolved (session 39). The core closes it as resolved by the system
(dispatcher/core/ladder.py `end_of_lifetime`); the read model stored outcome 'resolved',
so the dashboard showed it as 已解决 and counted it with the month report among the
requests resolved: a request whose helper never came read as a success. Its outcome is
'ended' now (status still 'resolved': what a bot's GET /v1/requests/{id} said before),
the dashboard's row says 到时结束, today's `resolved` and the month's leave it out and
count it as `ended`.

Through the real stack (the API, Kafka, the worker, PostgreSQL; the ladder and the lifetime
on `DISPATCH_PLAN_TIME_SCALE`), then on PostgreSQL alone: both recording paths (set-based
and one by one) and migration 0405's backfill of rows recorded before."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import asyncpg
import httpx
import pytest

from dispatcher.bench.record import _drop_db, _fresh_db
from dispatcher.ops.reports import month_report
from dispatcher.record.projection import record_events
from dispatcher.record.read.dashboard import today_by_community
from dispatcher.testing.stack import LocalStack
from tests.support.ended_s39 import EXPECTED, timeline
from tests.support.link_answers import press
from tests.support.local_day import one_local_day
from tests.support.phones_s39 import CONTACT_PHONE, STAFF, Phones, new_request, phones, put_helper
from tests.support.waiting import eventually
from tests.unit.conftest import COMMUNITY as WORLD_COMMUNITY

LOCAL = timezone(timedelta(hours=8))
COMMUNITY = "ended-outcome"
PHONES = {"late": "13700000021", "done": "13700000022"}
# A critical request lives 2 h: 0.003 of it is 21.6 s, its ladder's waits fractions of one.
SCALE = 0.003
LIFETIME_S = 2 * 3600 * SCALE


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[Phones]:
    async with phones(stack, SCALE, COMMUNITY) as running:
        yield running


@pytest.fixture(scope="module")
def api(run: Phones) -> LocalStack:
    return run.stack


async def _accept(run: Phones, client: httpx.AsyncClient, helper_id: str, rid: str) -> None:
    await run.receiver.wait_for(lambda: bool(run.to(helper_id, rid, "offer")), timeout=60)
    offer = run.to(helper_id, rid, "offer")[0]
    accepted = await press(client, httpx.URL(offer["accept_url"]).raw_path.decode())
    assert accepted.status_code == 200 and CONTACT_PHONE in accepted.text, accepted.text


async def test_a_request_taken_but_never_done_ends_apart_from_the_resolved(
    run: Phones, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await one_local_day(LIFETIME_S + 120)  # today's counts: one local day
    for hid, phone in PHONES.items():
        await put_helper(client, hid, COMMUNITY, phone)
    # One taken by "late", who never comes and never presses 已完成: its lifetime ends it.
    ended = await new_request(client, COMMUNITY, urgency="critical", helpers_needed=1)
    await _accept(run, client, "late", ended)
    # One taken by "done", which staff close as resolved: resolved, as ever.
    solved = await new_request(client, COMMUNITY, urgency="critical", helpers_needed=1)
    await _accept(run, client, "done", solved)
    r = await client.post(f"/ops/v1/requests/{solved}/resolve", headers=STAFF)
    assert r.status_code == 202, r.text

    row_sql = "SELECT status, outcome, closed_at FROM requests WHERE request_id = $1"

    async def closed(rid: str) -> asyncpg.Record | None:
        row = await db.fetchrow(row_sql, rid)
        return row if row is not None and row["closed_at"] is not None else None

    done_row = await eventually(lambda: closed(solved), what="the staff resolution recorded")
    end_row = await eventually(
        lambda: closed(ended), timeout=LIFETIME_S + 90, what="the request's lifetime over"
    )
    by = await db.fetchval(
        "SELECT body->>'by' FROM event_log WHERE request_id = $1 AND type = 'request_resolved'",
        ended,
    )
    assert by == "system"  # the core closed it, nobody said it was done
    assert (end_row["status"], end_row["outcome"]) == ("resolved", "ended")
    assert (done_row["status"], done_row["outcome"]) == ("resolved", "resolved")

    # What a bot reads: the status it read before, the outcome that says how it ended.
    got = await client.get(f"/v1/requests/{ended}", headers=STAFF)
    assert got.status_code == 200, got.text
    assert (got.json()["status"], got.json()["outcome"]) == ("resolved", "ended")

    # The dashboard: the row is 到时结束 (dashboard.js's label for "ended"), today's
    # resolved count leaves it out and counts it as ended.
    overview = await client.get("/ops/v1/overview", headers=STAFF)
    assert overview.status_code == 200, overview.text
    data = overview.json()
    outcomes = {x["request_id"]: x["outcome"] for x in data["recent_closed"]}
    assert (outcomes[ended], outcomes[solved]) == ("ended", "resolved")
    mine = next(c for c in data["communities"] if c["community_id"] == COMMUNITY)
    assert (mine["requests"], mine["resolved"], mine["ended"]) == (2, 1, 1), mine

    # The month report: resolved 1, ended 1 on its own (JSON and the CSV's column).
    month = end_row["closed_at"].astimezone(LOCAL).strftime("%Y-%m")
    report = await client.get(f"/ops/v1/reports/{COMMUNITY}/{month}", headers=STAFF)
    assert report.status_code == 200, report.text
    total = report.json()["total"]
    assert (total["requests"], total["resolved"], total["ended"]) == (2, 1, 1), total
    as_csv = await client.get(f"/ops/v1/reports/{COMMUNITY}/{month}?format=csv", headers=STAFF)
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert (rows[-1]["day"], rows[-1]["resolved"], rows[-1]["ended"]) == (month, "1", "1")


# --- on PostgreSQL alone: both recording paths, the backfill ------------------------------


@pytest.mark.parametrize("bulk", [True, False], ids=["set_based", "one_by_one"])
async def test_both_recording_paths_keep_an_ended_request_apart(
    stack: LocalStack, bulk: bool
) -> None:
    await one_local_day(120)
    now = datetime.now(UTC)
    w = timeline(now)
    name = f"test_ended_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(await _fresh_db(stack.pg_dsn, name))
        try:
            await record_events(conn, w.events, bulk=bulk)
            rows = await conn.fetch("SELECT request_id, status, outcome FROM requests")
            today = await today_by_community(conn)
            month = now.astimezone(LOCAL).strftime("%Y-%m")
            report = await month_report(conn, WORLD_COMMUNITY, month)
        finally:
            await conn.close()
    finally:
        await _drop_db(stack.pg_dsn, name)
    assert {r["request_id"]: (r["status"], r["outcome"]) for r in rows} == EXPECTED
    mine = next(c for c in today if c["community_id"] == WORLD_COMMUNITY)
    assert (mine["requests"], mine["resolved"], mine["ended"], mine["expired"]) == (4, 2, 1, 1)
    total = report.total
    assert (total["resolved"], total["ended"], total["expired"]) == (2, 1, 1), total


async def test_the_migration_sets_ended_on_rows_recorded_before(stack: LocalStack) -> None:
    """Rows recorded by the old projection (outcome 'resolved' for them all): migration 0405
    reads the log's request_resolved by the system and sets 'ended' there only; again, it
    changes nothing."""
    w = timeline(datetime.now(UTC))
    sql = (
        resources.files("dispatcher.record") / "migrations" / "0405_requests_ended_outcome.sql"
    ).read_text(encoding="utf-8")
    name = f"test_ended_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(await _fresh_db(stack.pg_dsn, name))
        try:
            await record_events(conn, w.events)
            await conn.execute("UPDATE requests SET outcome = status")  # as recorded before
            await conn.execute(sql)
            once = await conn.fetch("SELECT request_id, status, outcome FROM requests")
            await conn.execute(sql)
            twice = await conn.fetch("SELECT request_id, status, outcome FROM requests")
        finally:
            await conn.close()
    finally:
        await _drop_db(stack.pg_dsn, name)
    assert {r["request_id"]: (r["status"], r["outcome"]) for r in once} == EXPECTED
    assert sorted(map(tuple, twice)) == sorted(map(tuple, once))

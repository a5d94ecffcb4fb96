"""Personal data expires: `python -m dispatcher purge`, and the API runs it every hour.

PIPL's minimum-necessary rule: a requester's contact, exact place and free text are kept
only while the request is open and `retention_days` (default 30) after it closed; the
API's copy of each acknowledged command (kept to re-send it if it was never recorded) goes
as soon as it is recorded, and after `retention_days` even if it never was. Chat-group
posts go after 2 days and threads (who asked in which group) after 7. A merged report's
`ReportRepeated` row (`api_repeat_reports`) goes `retention_days` after the request it
joined closed, as that request's private row does. A helper's
sign-up staff never decide lapses `signup_pending_days` (default 30) after it was made and
forgets the person (edge/registrations.py `lapse`); a rejected or lapsed one still holding
the phone-keyed helper id (as the previous release's API leaves it during an upgrade) is
given its own (`unlink_forgotten`). Counts and categories stay for reports.
`now` is passed in, so a test can look 31 days ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import asyncpg

from dispatcher.clock import utcnow
from dispatcher.offer_binding import MAX_LIFETIME
from dispatcher.ops import api_metrics
from dispatcher.record.connect import connect
from dispatcher.record.edge import group_threads, intake, registrations
from dispatcher.settings import Settings, get_settings

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Purged:
    # closed requests given their purge time now, or moved earlier by a lowered retention
    scheduled: int
    requests: int  # requests whose contact, place and text were erased
    intake_commands: int  # API copies of commands erased
    offer_bindings: int = 0  # device bindings of offer links that can no longer be used
    signups_lapsed: int = 0  # helper sign-ups never decided, lapsed and forgotten
    group_posts: int = 0  # chat-group posts older than 2 days
    group_threads: int = 0  # chat-group threads (who asked, where) older than 7 days
    repeat_reports: int = 0  # merged reports' rows, their request closed past the retention
    # rejected or lapsed sign-ups given their own id for the phone-keyed one (the previous
    # release's API, serving during an upgrade, keeps that)
    signups_unlinked: int = 0


async def purge(
    conn: asyncpg.Connection, now: datetime, retention_days: int, *, signup_pending_days: int
) -> Purged:
    keep = timedelta(days=retention_days)
    # A request scheduled under a longer retention is moved earlier: a lowered
    # DISPATCH_RETENTION_DAYS applies to every closed request, not only to those closing
    # after it (before session 42 `purge_after` stayed as first set). A raised one moves
    # nothing already scheduled.
    async with conn.transaction():
        scheduled = await conn.fetchval(
            """
            WITH s AS (
                UPDATE request_private p SET purge_after = r.closed_at + $1::interval
                FROM requests r
                WHERE r.request_id = p.request_id AND r.closed_at IS NOT NULL
                  AND (p.purge_after IS NULL OR p.purge_after > r.closed_at + $1::interval)
                RETURNING 1)
            SELECT count(*) FROM s
            """,
            keep,
        )
        erased = await conn.fetchval(
            """
            WITH e AS (
                UPDATE request_private
                SET contact = '{}'::jsonb, place = '{}'::jsonb, text = '', sealed = NULL
                WHERE purge_after <= $1
                  AND (contact <> '{}'::jsonb OR place <> '{}'::jsonb OR text <> ''
                       OR sealed IS NOT NULL)
                RETURNING 1)
            SELECT count(*) FROM e
            """,
            now,
        )
        commands = await intake.erase_commands(conn, now - keep)
        repeats = await _forget_repeat_reports(conn, now - keep)
        # No personal data, but useless once no link they guard can be alive: not kept.
        bindings = await conn.fetchval(
            """
            WITH d AS (DELETE FROM offer_device_bindings WHERE bound_at < $1 RETURNING 1)
            SELECT count(*) FROM d
            """,
            now - MAX_LIFETIME,
        )
        lapsed = await registrations.lapse(conn, now - timedelta(days=signup_pending_days), now)
        unlinked = await registrations.unlink_forgotten(conn)
        # The API's group loop purges these too, but only runs with a platform bot configured.
        posts, threads = await group_threads.purge(conn, now)
    return Purged(
        int(scheduled),
        int(erased),
        commands,
        int(bindings),
        lapsed,
        posts,
        threads,
        repeats,
        unlinked,
    )


async def _forget_repeat_reports(conn: asyncpg.Connection, closed_before: datetime) -> int:
    """Merged reports' rows (`api_repeat_reports`, ids and times) of requests closed before
    `closed_before`. A row is read while its request is open (a retry merged again takes
    its stored time; the sweeper sends it unqueued) and to answer for the report by its own
    id (a withdrawal, 202 `withdrawn` and nothing sent, moot once the request closed; its
    status): after this, 404 `unknown_request`. The 409 `request_id_taken` check reads
    `api_intake` only, which stays. A request never recorded has no close: its rows stay,
    as its intake row does."""
    deleted = await conn.fetchval(
        """
        WITH d AS (
            DELETE FROM api_repeat_reports x USING requests r
            WHERE r.request_id = x.request_id AND r.closed_at <= $1
            RETURNING 1)
        SELECT count(*) FROM d
        """,
        closed_before,
    )
    return int(deleted)


async def _purge_as_set(conn: asyncpg.Connection, now: datetime, settings: Settings) -> Purged:
    return await purge(
        conn, now, settings.retention_days, signup_pending_days=settings.signup_pending_days
    )


async def purge_forever(
    settings: Settings,
    pool_of: Callable[[], Awaitable[asyncpg.Pool]],
    clock: Callable[[], datetime],
) -> None:
    """The API's hourly purge (`pool_of` is ApiDeps.pool, `clock` its clock). Failures are
    logged and retried; each run is counted by result and a success's time exported
    (api_metrics), so a purge failing every hour pages (DispatchRetentionPurgeStale)."""
    while True:
        try:
            pool = await pool_of()
            async with pool.acquire() as conn:
                done = await _purge_as_set(conn, clock(), settings)
        except Exception as exc:  # PostgreSQL away: try again next round
            api_metrics.observe_retention_purge(ok=False)
            log.warning("retention purge failed (%s); will retry", type(exc).__name__)
        else:
            api_metrics.observe_retention_purge(ok=True)
            if any(n for k, n in asdict(done).items() if k != "scheduled"):
                log.info("retention purge: %s", asdict(done))
        await asyncio.sleep(PURGE_EVERY_S)


async def run(settings: Settings, now: datetime) -> Purged:
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        return await _purge_as_set(conn, now, settings)
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher purge",
        description="Erase contacts, exact places and free text DISPATCH_RETENTION_DAYS after "
        "a request closed (and forget the reports merged into it), and lapse helper sign-ups "
        "pending DISPATCH_SIGNUP_PENDING_DAYS (the API also does this every hour).",
    )
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="purge as of this time (ISO 8601 with zone; default: now)",
    )
    args = parser.parse_args(argv)
    now = args.now or utcnow()
    if now.tzinfo is None:
        parser.error("--now needs a time zone, e.g. 2026-12-31T00:00:00+00:00")
    done = asyncio.run(run(get_settings(), now))
    print(json.dumps(asdict(done)))
    return 0

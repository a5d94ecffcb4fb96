"""Acknowledged requests (`api_intake`): who submitted each, its merge key and report count,
and the outbox copy of its command, kept until the worker recorded the request (then
dropped: it holds the contact) so an unrecorded one can be re-sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from dispatcher.record.db import Db
from dispatcher.record.edge import bot_calls


@dataclass(frozen=True)
class Unrecorded:
    request_id: str
    community_id: str
    command: str  # the acknowledged command, as JSON


@dataclass(frozen=True)
class Submitted:
    claimed: bool  # False: the idempotency key was already known, and nothing was written
    earlier: str | None  # the open request this report was merged into (None: a new one)
    replayed: bool = False  # the webhook-id was already used: nothing at all was written
    # Merged: the time of the report's stored `ReportRepeated` (`repeat_reports`), the first
    # copy's on a retry of the same message.
    repeat_at: datetime | None = None
    # The request id's intake row is an earlier request's (another caller's, or older than
    # a retry can be): nothing was written, the key claimed was given back (migration 0409).
    taken: bool = False


@dataclass(frozen=True)
class WebhookId:
    """A signed delivery's id, claimed in the same statement (once per bot)."""

    bot_id: str
    webhook_id: str


class FetchesRow(Protocol):
    """A pool, a connection, or the API's held connections (`api/held_connections.py`)."""

    async def fetchrow(self, query: str, *args: Any) -> Any: ...


async def submit(
    db: FetchesRow,
    *,
    webhook: WebhookId | None = None,
    bot_id: str | None,
    key: str | None,
    fingerprint: str | None,
    request_id: str,
    community_id: str,
    merge_key: str | None,
    command_json: str,
    window_s: float,
    issued_at: datetime,
    answer_json: str | None = None,
    retry_within_s: float = bot_calls.KEYS_KEPT_S,
) -> Submitted:
    """One round trip (migration 0409 `api_intake_submit_checked`; 0407's
    `api_intake_submit_with_repeat`, the previous release's, does the same but `taken`, and
    0370's `api_intake_submit` but that and the repeat's outbox row):
    claim the webhook-id (if any; a replay is refused before anything is written), then the
    idempotency key (if any) with `answer_json` (the answer to a new request, still in
    flight), then under the merge key's advisory lock either add a report to the latest
    other open request with this merge key opened within `window_s` (the answer then taken
    back out: a merged report gets another), storing the report's `ReportRepeated` (issued
    at `issued_at`) in the same transaction, or store the intake row with its command
    (outbox copy). Two API instances never both miss each other's report. `taken`: the
    request id is an earlier request's (its intake row another caller's, or opened more than
    `retry_within_s` ago: no retry of this claim, whose key lives that long), and nothing is
    written (the key's claim given back): a command sent for it would be dropped by the core
    as a known request."""
    row = await db.fetchrow(
        "SELECT replayed, claimed, earlier, repeat_at, taken FROM api_intake_submit_checked("
        "$1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11::jsonb, $12, $13)",
        webhook.bot_id if webhook else None,
        webhook.webhook_id if webhook else None,
        bot_id,
        key,
        fingerprint,
        request_id,
        community_id,
        merge_key,
        command_json,
        window_s,
        answer_json,
        issued_at,
        retry_within_s,
    )
    assert row is not None
    earlier = row["earlier"]
    return Submitted(
        bool(row["claimed"]),
        str(earlier) if earlier is not None else None,
        bool(row["replayed"]),
        row["repeat_at"],
        bool(row["taken"]),
    )


@dataclass(frozen=True)
class Outbox:
    community_id: str
    command: str | None  # None: recorded by the worker (so Kafka had it), copy dropped


async def outbox(db: Db, request_id: str) -> Outbox | None:
    """The stored command of an acknowledged request, to send it again."""
    row = await db.fetchrow(
        "SELECT community_id, command::text AS command FROM api_intake WHERE request_id = $1",
        request_id,
    )
    return Outbox(row["community_id"], row["command"]) if row is not None else None


async def community_of(db: Db, request_id: str) -> str | None:
    value = await db.fetchval(
        "SELECT community_id FROM api_intake WHERE request_id = $1", request_id
    )
    return str(value) if value is not None else None


async def submitted_by(db: Db, request_id: str) -> str | None:
    """The bot that submitted the request (None: staff, or unknown here)."""
    value = await db.fetchval("SELECT bot_id FROM api_intake WHERE request_id = $1", request_id)
    return str(value) if value is not None else None


@dataclass(frozen=True)
class CoReport:
    """A report merged into an earlier request (`api_repeat_reports`), by its own id."""

    request_id: str  # the earlier request it was merged into
    community_id: str
    bot_id: str | None  # who reported it (None: recorded by an API before migration 0409)


async def co_report(db: Db, report_id: str) -> CoReport | None:
    row = await db.fetchrow(
        "SELECT request_id, community_id, bot_id FROM api_repeat_reports WHERE report_id = $1 "
        "ORDER BY opened_at DESC LIMIT 1",
        report_id,
    )
    return CoReport(**dict(row)) if row is not None else None


async def confirm_recorded(db: Db) -> int:
    """Requests the worker recorded: confirmed, and their stored command dropped."""
    status = await db.execute(
        """
        UPDATE api_intake i SET confirmed_at = now(), command = NULL
        FROM requests r
        WHERE r.request_id = i.request_id AND i.confirmed_at IS NULL
        """
    )
    return int(status.split()[-1])


async def unrecorded(
    conn: asyncpg.Connection, grace_s: float, max_resends: int
) -> list[Unrecorded]:
    """Acknowledged and still not recorded, locked for this transaction (another API
    instance skips them): first once `grace_s` old, then each time its age has doubled
    (`resent_due`): a worker merely behind would otherwise get every waiting request again
    on every pass, piling onto the very backlog it is working through."""
    rows = await conn.fetch(
        f"""
        SELECT request_id, community_id, command::text AS command FROM api_intake
        WHERE confirmed_at IS NULL AND command IS NOT NULL AND resent < $2
          AND {resent_due("opened_at", "resent")}
        ORDER BY opened_at LIMIT 500
        FOR UPDATE SKIP LOCKED
        """,
        grace_s,
        max_resends,
    )
    return [Unrecorded(**dict(r)) for r in rows]


def resent_due(since: str, resent: str) -> str:
    """SQL: a stored command re-sent `resent` times is due again once `since` is
    grace × 2^resent old ($1: the grace in seconds) - at grace, 2×, 4×… (up to the cap of
    re-sends, about six days at a 30 s grace): a handful per row, whatever the backlog."""
    return f"{since} < now() - make_interval(secs => $1 * power(2, {resent}))"


async def count_resent(conn: asyncpg.Connection, request_id: str) -> None:
    await conn.execute(
        "UPDATE api_intake SET resent = resent + 1 WHERE request_id = $1", request_id
    )


async def erase_commands(conn: asyncpg.Connection, opened_before: datetime) -> int:
    """Retention: the stored command (it holds the contact) of every recorded request, and of
    any opened before `opened_before` even if never recorded."""
    erased = await conn.fetchval(
        """
        WITH i AS (
            UPDATE api_intake SET command = NULL
            WHERE command IS NOT NULL AND (confirmed_at IS NOT NULL OR opened_at <= $1)
            RETURNING 1)
        SELECT count(*) FROM i
        """,
        opened_before,
    )
    return int(erased)

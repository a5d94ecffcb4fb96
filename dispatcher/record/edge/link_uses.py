"""Volunteers' answers through links (`api_link_uses`): one row per link action and ask of
the offer (`links.ask_key`: a reopened slot asks again under the same offer id), claimed by
its first POST with the command it sends (the outbox: re-sent as is by a later press or the
unrecorded sweeper while Kafka's ack is not known), marked once Kafka acknowledged it, with
the outcome once known and how often it was re-sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db
from dispatcher.record.edge.intake import resent_due


@dataclass(frozen=True)
class LinkUse:
    use_key: str
    command_id: str
    action: str
    request_id: str
    offer_id: str
    helper_id: str
    outcome: str | None
    # The command as sent (JSON); '' sends nothing; None on rows from before migration 0390.
    command: str | None = None
    queued: bool = False  # Kafka acknowledged `command` (or there is nothing to send)


@dataclass(frozen=True, kw_only=True)
class UnappliedUse(LinkUse):
    """An answer whose command caused no event yet, with what re-sending it needs."""

    used_at: datetime
    community_id: str


_COLUMNS = (
    "use_key, command_id, action, request_id, offer_id, helper_id, outcome, command, "
    "queued_at IS NOT NULL AS queued"
)


async def claim(db: Db, use: LinkUse) -> bool:
    """True for the first POST of this link (its row now holds `use.command`)."""
    won = await db.fetchval(
        "INSERT INTO api_link_uses (use_key, command_id, action, request_id, offer_id, helper_id,"
        " command, queued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = '' THEN now() END)"
        " ON CONFLICT DO NOTHING RETURNING true",
        use.use_key,
        use.command_id,
        use.action,
        use.request_id,
        use.offer_id,
        use.helper_id,
        use.command,
    )
    return bool(won)


async def mark_queued(db: Db, use_key: str) -> None:
    """Kafka acknowledged the use's command: a later press only shows the outcome."""
    await db.execute(
        "UPDATE api_link_uses SET queued_at = now() WHERE use_key = $1 AND queued_at IS NULL",
        use_key,
    )


async def release(db: Db, use_key: str) -> None:
    """Forget an answer not yet settled (its command was never queued)."""
    await db.execute("DELETE FROM api_link_uses WHERE use_key = $1 AND outcome IS NULL", use_key)


async def reopen(db: Db, use_key: str, command_id: str, outcome: str = "refused") -> None:
    """Forget an answer the core refused without doing anything (a team leader named a
    member who may not go; `helping_elsewhere`, once the helper is free again): the link
    takes a new answer. Only that answer's row: a newer one (another command id) stays."""
    await db.execute(
        "DELETE FROM api_link_uses WHERE use_key = $1 AND command_id = $2 AND outcome = $3",
        use_key,
        command_id,
        outcome,
    )


async def recorded(db: Db, use_key: str) -> LinkUse | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM api_link_uses WHERE use_key = $1", use_key)
    return LinkUse(**dict(row)) if row is not None else None


async def settle(db: Db, use_key: str, command_id: str, outcome: str) -> None:
    """The outcome of that command's use (not of a newer answer that replaced it)."""
    await db.execute(
        "UPDATE api_link_uses SET outcome = $3, outcome_at = now() "
        "WHERE use_key = $1 AND command_id = $2 AND outcome IS NULL",
        use_key,
        command_id,
        outcome,
    )


def _sends_offer(offer: str, request: str) -> str:
    """SQL: `s` is an event that sent the offer: a wave (one event for many helpers) or, in
    logs from before waves, one offer."""
    return f"""
        s.request_id = {request} AND (
            (s.type = 'offers_sent' AND s.body->'offers'
             @> jsonb_build_array(jsonb_build_object('offer_id', {offer}::text)))
            OR (s.type = 'offer_sent' AND s.body->>'offer_id' = {offer}))
    """


async def sends(db: Db, request_id: str | None, offer_id: str) -> int:
    """How often the event log shows the offer sent: more than once when a reopened slot
    asked its helper again after they were stood down (the same offer id). `request_id`
    None: the offer's, as the read model has it."""
    request = (
        "$2" if request_id is not None else "(SELECT request_id FROM offers WHERE offer_id = $1)"
    )
    sql = "SELECT count(*) FROM event_log s WHERE " + _sends_offer("$1", request)
    args = (offer_id, request_id) if request_id is not None else (offer_id,)
    return int(await db.fetchval(sql, *args))


async def unapplied(
    conn: asyncpg.Connection, grace_s: float, max_resends: int
) -> list[UnappliedUse]:
    """Answers whose command caused no event (a press that sends nothing excepted), due
    as `intake.resent_due` says (grace, then each time the age doubles), locked for this
    transaction (another API instance skips them)."""
    rows = await conn.fetch(
        f"""
        SELECT u.use_key, u.command_id, u.action, u.request_id, u.offer_id, u.helper_id,
               u.outcome, u.command, u.queued_at IS NOT NULL AS queued, u.used_at,
               r.community_id
        FROM api_link_uses u JOIN requests r ON r.request_id = u.request_id
        WHERE {resent_due("u.used_at", "u.resent")} AND u.resent < $2
          AND (u.command IS NULL OR u.command <> '')
          AND NOT EXISTS (SELECT 1 FROM event_log e WHERE e.caused_by = u.command_id)
        ORDER BY u.used_at LIMIT 500
        FOR UPDATE OF u SKIP LOCKED
        """,
        grace_s,
        max_resends,
    )
    return [UnappliedUse(**dict(r)) for r in rows]


async def count_resent(conn: asyncpg.Connection, use_key: str) -> None:
    """Re-sent (Kafka acknowledged it): counted, and queued if it was not known to be."""
    await conn.execute(
        "UPDATE api_link_uses SET resent = resent + 1, queued_at = coalesce(queued_at, now()) "
        "WHERE use_key = $1",
        use_key,
    )

"""Offers as recorded: a helper's open offers, and what became of an answer to one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dispatcher.record.db import Db


@dataclass(frozen=True)
class OpenOffer:
    offer_id: str
    request_id: str
    category: str
    urgency: str
    building_label: str | None
    remote: bool = False  # a phone need: asked to call, not to come (migration 0417)


async def open_offers(db: Db, helper_id: str, offer_id: str | None = None) -> list[OpenOffer]:
    """This helper's offers still waiting for an answer on open requests (newest first),
    or just `offer_id` when given."""
    rows = await db.fetch(
        """
        SELECT o.offer_id, o.request_id, r.category, r.urgency, r.building_label, o.remote
        FROM offers o JOIN requests r USING (request_id)
        WHERE o.helper_id = $1 AND o.status = 'sent' AND r.closed_at IS NULL
          AND ($2::text IS NULL OR o.offer_id = $2)
        ORDER BY o.sent_at DESC LIMIT 20
        """,
        helper_id,
        offer_id,
    )
    return [OpenOffer(**dict(r)) for r in rows]


async def is_assigned(db: Db, request_id: str, helper_id: str, offer_id: str) -> bool:
    assigned = await db.fetchval(
        "SELECT true FROM assignments WHERE request_id = $1 AND helper_id = $2 AND offer_id = $3",
        request_id,
        helper_id,
        offer_id,
    )
    return bool(assigned)


async def offer_status(db: Db, offer_id: str) -> str | None:
    value = await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offer_id)
    return str(value) if value is not None else None


async def rejection_reason(db: Db, command_id: str) -> str | None:
    """The core's CommandRejected reason for this command, once recorded."""
    found = await rejection(db, command_id)
    return found[0] if found is not None else None


async def rejection(db: Db, command_id: str) -> tuple[str, str] | None:
    """The core's CommandRejected reason and detail for this command, once recorded."""
    row = await db.fetchrow(
        "SELECT body->>'reason' AS reason, coalesce(body->>'detail', '') AS detail"
        " FROM event_log WHERE caused_by = $1 AND type = 'command_rejected' LIMIT 1",
        command_id,
    )
    return (str(row["reason"]), str(row["detail"])) if row is not None else None


async def refusals(db: Db, request_id: str, offer_id: str, reasons: Collection[str]) -> int:
    """How many answers to this offer the core refused for one of these reasons."""
    value = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'command_rejected'"
        " AND body->>'offer_id' = $2 AND body->>'reason' = ANY($3::text[])",
        request_id,
        offer_id,
        list(reasons),
    )
    return int(value or 0)


async def rings(db: Db, offer_ids: list[str]) -> dict[str, str]:
    """Offer id -> the ring of the helper it went to (the demo shows each wave's mix)."""
    rows = await db.fetch(
        "SELECT offer_id, ring FROM offers WHERE offer_id = ANY($1::text[])", offer_ids
    )
    return {str(r["offer_id"]): str(r["ring"]) for r in rows}


async def is_remote(db: Db, offer_id: str) -> bool:
    """Whether the offer asks for help by phone (`offers.remote`, migration 0417; an offer
    recorded before reads false)."""
    return bool(await db.fetchval("SELECT remote FROM offers WHERE offer_id = $1", offer_id))


async def team_of(db: Db, offer_id: str) -> tuple[str, int] | None:
    """A team offer's team and its size (members known when it was sent); None otherwise."""
    row = await db.fetchrow("SELECT team_id, team_size FROM offers WHERE offer_id = $1", offer_id)
    if row is None or row["team_id"] is None:
        return None
    return str(row["team_id"]), int(row["team_size"] or 1)

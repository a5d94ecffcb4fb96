"""Requests as recorded: status for bots, public facts for link pages, private details for
the accepting helper only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatcher.record.db import Db, Row
from schemas.vocab import EMERGENCY_SERVICES

_KEPT_BY = sorted(t.value for t in EMERGENCY_SERVICES)  # referrals that keep the helpers


async def status(db: Db, request_id: str) -> Row | None:
    """The request's row as recorded (no personal data: that is in `request_private`), and
    `pause_ahead`: its ladder's quiet-hours pause (`paused_until`, migration 0406) has not
    ended yet. No event marks its end, so it is read against the database's clock, as the
    dashboard reads it (dashboard.OPEN_SQL)."""
    row = await db.fetchrow(
        "SELECT *, COALESCE(paused_until > now(), false) AS pause_ahead FROM requests "
        "WHERE request_id = $1",
        request_id,
    )
    return dict(row) if row is not None else None


async def staff_offered(db: Db, request_id: str, whistled_at: datetime) -> bool:
    """Did the recorded whistle offer it to staff on duty (offers of the whistle ring from
    the whistle on; property's first-wave offers of that ring come before it)? A whistle
    in a community with nobody on duty offers nobody: then a merged report's reply does not
    say staff were notified."""
    found = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM offers WHERE request_id = $1 AND ring = 'whistle'"
        " AND sent_at >= $2)",
        request_id,
        whistled_at,
    )
    return bool(found)


async def community_of(db: Db, request_id: str) -> str | None:
    value = await db.fetchval("SELECT community_id FROM requests WHERE request_id = $1", request_id)
    return str(value) if value is not None else None


async def closed_among(db: Db, request_ids: list[str]) -> list[str]:
    """Those of `request_ids` recorded closed."""
    rows = await db.fetch(
        "SELECT request_id FROM requests WHERE request_id = ANY($1::text[]) "
        "AND closed_at IS NOT NULL",
        request_ids,
    )
    return [str(r["request_id"]) for r in rows]


@dataclass(frozen=True)
class RequestSummary:
    """Public facts only: category, urgency, building label, status."""

    category: str
    urgency: str
    building_label: str | None
    status: str
    closed_at: datetime | None
    helpers_needed: int
    helpers_assigned: int


async def summary(db: Db, request_id: str) -> RequestSummary | None:
    row = await db.fetchrow(
        "SELECT category, urgency, building_label, status, closed_at, helpers_needed, "
        "helpers_assigned FROM requests WHERE request_id = $1",
        request_id,
    )
    return RequestSummary(**dict(row)) if row is not None else None


async def private_details(db: Db, request_id: str, helper_id: str) -> dict[str, Any] | None:
    """Contact and exact place, only while this helper holds the request: assigned, not
    released and not done (PIPL: minimum necessary, only to the helper who accepted), on an
    open request or on one referred to 120/110/119 that kept them (`EMERGENCY_SERVICES`):
    they were told to go on until the professionals arrive. Once they pressed 已完成 the
    contact is not theirs any more, even while another slot keeps the request open."""
    row = await db.fetchrow(
        """
        SELECT p.contact, p.place, p.text, p.sealed FROM request_private p
        JOIN assignments a ON a.request_id = p.request_id
        JOIN requests r ON r.request_id = p.request_id
        WHERE p.request_id = $1 AND a.helper_id = $2 AND a.released_at IS NULL
          AND a.done_at IS NULL
          AND (r.closed_at IS NULL OR r.referred_to = ANY($3::text[]))
        """,
        request_id,
        helper_id,
        _KEPT_BY,
    )
    if row is None:
        return None
    return {
        "contact": json.loads(row["contact"]),
        "place": json.loads(row["place"]),
        "text": row["text"],
        "sealed": json.loads(row["sealed"]) if row["sealed"] is not None else None,
    }

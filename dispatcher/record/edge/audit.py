"""Who did or saw what: `staff_audit` (routes staff used) and `contact_views` (a requester's
contact shown to the accepting helper). Append-only; no bodies, no personal data."""

from __future__ import annotations

from dispatcher.record.db import Db


async def staff_used(db: Db, staff: str, method: str, route: str, community_id: str | None) -> None:
    await db.execute(
        "INSERT INTO staff_audit (staff, method, route, community_id) VALUES ($1, $2, $3, $4)",
        staff,
        method,
        route,
        community_id,
    )


async def contact_viewed(db: Db, request_id: str, offer_id: str, helper_id: str, via: str) -> None:
    await db.execute(
        "INSERT INTO contact_views (request_id, offer_id, helper_id, via) VALUES ($1, $2, $3, $4)",
        request_id,
        offer_id,
        helper_id,
        via,
    )

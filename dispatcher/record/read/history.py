"""Offer history for fitting helpers' behaviour (`simulate --from-db`)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from dispatcher.record.db import Db


class OfferAnswer(NamedTuple):
    helper_id: str
    status: str
    # The request's urgency and the offer's ring: the fit compares each answer with the
    # behaviour model's expectation for that urgency and ring.
    urgency: str
    ring: str
    sent_at: datetime
    answered_at: datetime | None


async def offers_since(db: Db, community_id: str, since: datetime) -> list[OfferAnswer]:
    rows = await db.fetch(
        """
        SELECT o.helper_id, o.status, r.urgency, o.ring, o.sent_at, o.answered_at
        FROM offers o JOIN requests r ON r.request_id = o.request_id
        WHERE r.community_id = $1 AND o.sent_at >= $2
        """,
        community_id,
        since,
    )
    return [
        OfferAnswer(
            r["helper_id"], r["status"], r["urgency"], r["ring"], r["sent_at"], r["answered_at"]
        )
        for r in rows
    ]

"""One helper's assignment as its own page needs it: remote or not, on the way, done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.record.db import Db


@dataclass(frozen=True, slots=True)
class Progress:
    remote: bool
    on_way_at: datetime | None
    done_at: datetime | None
    minutes_spent: int | None
    released_why: str | None  # withdrew / no_show / covered …; None while held
    request_closed: bool

    @property
    def held(self) -> bool:
        return self.released_why is None


async def progress(db: Db, request_id: str, helper_id: str, offer_id: str) -> Progress | None:
    """None unless this helper holds (or held) this request through this offer."""
    row = await db.fetchrow(
        """
        SELECT a.remote, a.on_way_at, a.done_at, a.minutes_spent, a.released_why,
               r.closed_at IS NOT NULL AS request_closed
        FROM assignments a JOIN requests r USING (request_id)
        WHERE a.request_id = $1 AND a.helper_id = $2 AND a.offer_id = $3
        """,
        request_id,
        helper_id,
        offer_id,
    )
    if row is None:
        return None
    return Progress(
        remote=bool(row["remote"]),
        on_way_at=row["on_way_at"],
        done_at=row["done_at"],
        minutes_spent=row["minutes_spent"],
        released_why=row["released_why"],
        request_closed=bool(row["request_closed"]),
    )

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


@dataclass(frozen=True, slots=True)
class Holder:
    helper_id: str
    assigned_at: datetime
    on_way: bool  # pressed 我在路上 (a remote helper: calling)
    remote: bool


async def holders(db: Db, request_id: str) -> tuple[bool | None, list[Holder]]:
    """Whether the request is closed (None: not recorded) and who holds it now: assignments
    not released and not done, first assigned first. The read model lags the worker by a
    moment: one who just accepted may be missing for a second."""
    closed = await db.fetchval(
        "SELECT closed_at IS NOT NULL FROM requests WHERE request_id = $1", request_id
    )
    rows = await db.fetch(
        """
        SELECT a.helper_id, a.assigned_at, a.on_way_at IS NOT NULL AS on_way, a.remote
        FROM assignments a WHERE a.request_id = $1 AND a.released_at IS NULL
          AND a.done_at IS NULL
        ORDER BY a.assigned_at, a.helper_id
        """,
        request_id,
    )
    held = [Holder(r["helper_id"], r["assigned_at"], r["on_way"], bool(r["remote"])) for r in rows]
    return closed, held


@dataclass(frozen=True, slots=True)
class Holding:
    released_why: str | None
    done: bool
    request_closed: bool
    request_status: str


async def holding(db: Db, request_id: str, helper_id: str) -> Holding | None:
    """One helper's assignment on a request, any offer (None: they never held it)."""
    row = await db.fetchrow(
        """
        SELECT a.released_why, a.done_at IS NOT NULL AS done,
               r.closed_at IS NOT NULL AS closed, r.status
        FROM assignments a JOIN requests r USING (request_id)
        WHERE a.request_id = $1 AND a.helper_id = $2
        """,
        request_id,
        helper_id,
    )
    if row is None:
        return None
    return Holding(row["released_why"], bool(row["done"]), bool(row["closed"]), row["status"])

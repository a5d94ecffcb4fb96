"""One helper's assignment as its own page needs it: remote or not, on the way, done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.core.presence import HOLD_CAP
from dispatcher.record.db import Db
from schemas.vocab import EMERGENCY_SERVICES


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


@dataclass(frozen=True, slots=True)
class PresenceHeld:
    """An in-person assignment that holds its helper (`dispatcher/core/presence.py`), as
    their personal page tells them: the building only (the label every offer shows),
    never the requester's flat or phone."""

    building_label: str | None
    until: datetime  # `HOLD_CAP` after the accept, or the request's end if sooner
    critical: bool  # the held request ranks critical: no other in-person request is offered


# The worker keeps holds in its own state (`HelperState.presence`), which the API does not
# read; the read model has what they are made from (`presence.holders`): an assignment not
# released or done, in person, accepted less than `HOLD_CAP` ago, on a request still live or
# handed by staff to 120/110/119 (which keeps its helpers), and at latest to the request's
# end. The end is the core's `RequestState.ends_at`, which no event states once it moved:
# it is made again from the log (`_ENDS`). Open requests by their partial index; referrals
# closed less than `HOLD_CAP` ago (a hold is accepted before its request closes, so less
# than the cap before now) by theirs (0410): neither a scan of every assignment the helper
# ever had nor of every referral the community ever had.
#
# The request's end now: as opened (`RequestOpened.ends_at`), moved only later (core
# `ladder._whistle_rung`, `paused_for_quiet_hours`, `request_commands` re-holding) - by the
# whistle to its rung's start plus the waits of its rung and those after it (the ladder is
# in `RequestOpened`; the rung starts at its `ring_escalated`, or at a `whistle_blown`
# blown again), by a pause or a hold to its `until`. Before session 42 the end as opened
# was read: a whistle blown late (after an outage, a slot reopened near the end) kept
# helpers held past the time the note named. Not made again: a whistle's end moved out of
# quiet hours (the community's hours are not in the log) and a whistle blown again on a
# request staff claimed (no event): the note then names the earlier end.
_ENDS = """
(SELECT GREATEST((o.body->>'ends_at')::timestamptz, (
    SELECT max(CASE WHEN e.type = 'request_paused' OR e.type = 'request_held'
                    THEN (e.body->>'until')::timestamptz
                    ELSE e.occurred_at + make_interval(secs => (
                        SELECT sum((s.rung->>'wait_s')::float8)
                        FROM jsonb_array_elements(o.body->'ladder') WITH ORDINALITY s(rung, n)
                        WHERE s.n > (e.body->>'step')::int))
               END)
    FROM event_log e
    WHERE e.request_id = o.request_id
      AND (e.type IN ('whistle_blown', 'request_paused', 'request_held')
           OR (e.type = 'ring_escalated' AND COALESCE(
                   o.body->'ladder'->((e.body->>'step')::int)->>'action',
                   o.body->'ladder'->((e.body->>'step')::int)->>'ring') = 'whistle'))))
 FROM event_log o WHERE o.request_id = r.request_id AND o.type = 'request_opened' LIMIT 1)
"""
_HELD = f"""
WITH candidates AS (
    SELECT request_id FROM requests WHERE closed_at IS NULL AND community_id = $1
    UNION
    SELECT request_id FROM requests
    WHERE community_id = $1 AND status = 'referred' AND closed_at > $3
)
SELECT r.building_label, a.assigned_at, r.closed_at IS NULL AS live,
       r.urgency = 'critical' OR r.emergency_advised IS NOT NULL AS critical,
       {_ENDS} AS ends_at
FROM candidates c
JOIN requests r ON r.request_id = c.request_id
JOIN assignments a ON a.request_id = r.request_id AND a.helper_id = $2
WHERE a.released_at IS NULL AND a.done_at IS NULL AND NOT a.remote AND a.assigned_at > $3
  AND (r.closed_at IS NULL OR (r.status = 'referred' AND r.referred_to = ANY($4::text[])))
ORDER BY a.assigned_at
"""


async def presence_held(
    db: Db, community_id: str, helper_id: str, now: datetime
) -> list[PresenceHeld]:
    """The in-person assignments holding the helper at `now`, first accepted first."""
    rows = await db.fetch(
        _HELD,
        community_id,
        helper_id,
        now - HOLD_CAP,
        sorted(t.value for t in EMERGENCY_SERVICES),
    )
    held = []
    for row in rows:
        until = row["assigned_at"] + HOLD_CAP
        ends = row["ends_at"]
        # The request's end bounds it, unless it is live past it (moved unseen: `_ENDS`).
        if ends is not None and (not row["live"] or ends > now):
            until = min(until, ends)
        if until > now:
            held.append(PresenceHeld(row["building_label"], until, bool(row["critical"])))
    return held

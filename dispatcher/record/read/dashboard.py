"""The dashboard's queries: open requests, the last hour's closed ones (and older ones helpers
kept after a referral still hold), today per community. No personal data and no building
label (see dispatcher/ops/dashboard_data.py)."""

from __future__ import annotations

from dispatcher.record.db import Db, Row
from schemas.vocab import EMERGENCY_SERVICES

# Days and months are China's local ones (UTC+8, no daylight saving).
LOCAL_TZ = "Asia/Shanghai"
TODAY_START = f"(date_trunc('day', now() AT TIME ZONE '{LOCAL_TZ}') AT TIME ZONE '{LOCAL_TZ}')"

# When the wait for a first accept began: the opening; for a request held for quiet hours
# (nobody asked until they end), its release (`released_at`, migration 0401) when the first
# accept came after it, else the first offer (a team staff called while it was held, whose
# accept can precede the release or fill the request before any: from the release that
# would read negative). Time to first accept, in the month report and on the dashboard,
# counts from here.
ASKED_FROM = (
    "CASE WHEN released_at IS NULL AND held_until IS NULL THEN opened_at"
    " WHEN first_accept_at >= released_at THEN released_at"
    " ELSE COALESCE(first_offer_at, opened_at) END"
)
TTFA_S = f"EXTRACT(EPOCH FROM first_accept_at - ({ASKED_FROM}))::float8"

# A ladder paused for quiet hours (`paused_until`, migration 0406) goes on at that time,
# which no event marks: shown paused only while it is ahead.
OPEN_SQL = """
SELECT request_id, community_id, category, urgency, status, ring, step, helpers_needed,
       helpers_assigned, offers_sent, opened_at, first_offer_at, first_accept_at,
       whistled_at IS NOT NULL AS whistled, emergency_advised, referral_advised, claimed_by,
       held_until, staff_unreached,
       CASE WHEN paused_until > now() THEN paused_until END AS paused_until,
       CASE WHEN paused_until > now() THEN paused_local END AS paused_local
FROM requests WHERE closed_at IS NULL AND ($2::text[] IS NULL OR community_id = ANY($2))
ORDER BY CASE urgency WHEN 'critical' THEN 0 WHEN 'urgent' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
         opened_at
LIMIT $1
"""

# A referral to 120/110/119 keeps the helpers who held the request (the core's
# `kept_helper_ids`) until each presses 已完成, withdraws or is released as a no-show:
# `kept_holders` counts those still holding it. Staff must see such a request, and its 未到场
# buttons, for as long as anyone holds it, not for the closed list's hour only.
KEPT_BY = sorted(t.value for t in EMERGENCY_SERVICES)


def _kept_holders(kept_by: str) -> str:
    """SQL: the kept helpers holding request `r`; `kept_by` the parameter of `KEPT_BY`."""
    return (
        f"CASE WHEN r.status = 'referred' AND r.referred_to = ANY({kept_by}::text[]) THEN ("
        " SELECT count(*) FROM assignments a WHERE a.request_id = r.request_id"
        " AND a.released_at IS NULL AND a.done_at IS NULL) ELSE 0 END"
    )


# The last hour's closed requests and, apart from them, those kept helpers still hold,
# each list capped at $1: old kept rows piling up must not push the last hour off the screen.
# A kept row stays at most 24 h (service hours are capped there too): a helper who stayed
# until the ambulance came and never pressed 已完成 must not keep it on the screen for good,
# nor leave staff only 未到场 (a no-show against someone who helped) to clear it.
RECENT_CLOSED_SQL = f"""
WITH c AS (
  SELECT request_id, community_id, category, urgency, status, outcome, ring, step,
         helpers_needed, helpers_assigned, offers_sent, opened_at, first_accept_at, closed_at,
         claimed_by, referred_to, referred_department, staff_unreached,
         {_kept_holders("$3")} AS kept_holders
  FROM requests r WHERE ($2::text[] IS NULL OR community_id = ANY($2))
    AND (closed_at >= now() - interval '1 hour'
         OR (status = 'referred' AND closed_at >= now() - interval '24 hours'
             AND referred_to = ANY($3::text[])))
)
(SELECT * FROM c WHERE kept_holders > 0 ORDER BY closed_at DESC LIMIT $1)
UNION ALL
(SELECT * FROM c WHERE kept_holders = 0 AND closed_at >= now() - interval '1 hour'
 ORDER BY closed_at DESC LIMIT $1)
"""

KEPT_SQL = f"SELECT {_kept_holders('$2')} FROM requests r WHERE r.request_id = $1"

# One row per community, plus a NULL-community row for all of them: today's (local) figures,
# `resolved` the requests someone said were done (requester, staff, every helper's 已完成),
# `ended` those a helper held when their lifetime ran out, nobody saying so (outcome 'ended':
# dispatcher/record/projection_rows.py `closing_outcome`), not counted as resolved;
# and `open`, the requests open now, whenever they were opened (the "Open" tile and column;
# the open list is capped, so its length is not the count). Percentiles are nearest rank
# (percentile_disc, as dispatcher/stats.py): a time that really happened, never interpolated.
TODAY_SQL = f"""
WITH scope AS (
  SELECT r.*, {TTFA_S} AS ttfa,
         opened_at >= {TODAY_START} AS today
  FROM requests r
  WHERE (closed_at IS NULL OR opened_at >= {TODAY_START})
    AND ($1::text[] IS NULL OR community_id = ANY($1))
)
SELECT community_id,
       count(*) FILTER (WHERE today) AS requests,
       count(*) FILTER (WHERE closed_at IS NULL) AS open,
       count(first_accept_at) FILTER (WHERE today) AS answered,
       count(*) FILTER (WHERE today AND outcome = 'resolved') AS resolved,
       count(*) FILTER (WHERE today AND outcome = 'ended') AS ended,
       count(*) FILTER (WHERE today AND outcome = 'expired') AS expired,
       count(*) FILTER (WHERE today AND whistled_at IS NOT NULL) AS whistles,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY ttfa) FILTER (WHERE today) AS ttfa_p50,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY ttfa) FILTER (WHERE today) AS ttfa_p90,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY ttfa) FILTER (WHERE today) AS ttfa_p99
FROM scope GROUP BY GROUPING SETS ((community_id), ())
ORDER BY community_id NULLS FIRST
"""


# `only`: these communities (a community's staff); None: every community.


async def open_requests(db: Db, limit: int, only: list[str] | None = None) -> list[Row]:
    """The `limit` most urgent open requests (critical first), oldest first within an
    urgency: when more are open, the newest critical one must still be on the screen."""
    return [dict(r) for r in await db.fetch(OPEN_SQL, limit, only)]


async def recently_closed(db: Db, limit: int, only: list[str] | None = None) -> list[Row]:
    """Those referred to 120/110/119 in the last 24 h that kept helpers still hold
    (`kept_holders`), then the others closed within the last hour; each latest first and
    at most `limit`."""
    return [dict(r) for r in await db.fetch(RECENT_CLOSED_SQL, limit, only, KEPT_BY)]


async def kept_holders(db: Db, request_id: str) -> int:
    """How many kept helpers still hold this request after its referral to 120/110/119
    (0 for any other request, open or closed)."""
    return int(await db.fetchval(KEPT_SQL, request_id, KEPT_BY) or 0)


async def today_by_community(db: Db, only: list[str] | None = None) -> list[Row]:
    """Today's (local) figures per community, the all-communities row first; `open`
    counts every request open now."""
    return [dict(r) for r in await db.fetch(TODAY_SQL, only)]

"""The monthly report's queries (definitions in dispatcher/ops/reports.py)."""

from __future__ import annotations

from datetime import date

from dispatcher.record.db import Db, Row
from dispatcher.record.read.dashboard import LOCAL_TZ, TTFA_S

# $1 community, $2 first day of month (local), grouping by local day with a month total.
# Percentiles are nearest rank (percentile_disc, as dispatcher/stats.py and the simulator).
# Time to first accept counts from when neighbours were first asked (`ASKED_FROM`: for a
# request held for quiet hours, its release), over the requests of the day they were opened.
# `ended`: closed at the end of their lifetime with a helper assigned and nobody confirming
# it done (outcome 'ended'), apart from `resolved`.
DAYS_SQL = f"""
WITH r AS (
  SELECT q.*, (q.opened_at AT TIME ZONE '{LOCAL_TZ}')::date AS day,
         {TTFA_S} AS ttfa,
         (SELECT count(*) FROM event_log e
           WHERE e.request_id = q.request_id AND e.type = 'ring_escalated') AS escalations
  FROM requests q
  WHERE q.community_id = $1
    AND q.opened_at >= ($2::date::timestamp AT TIME ZONE '{LOCAL_TZ}')
    AND q.opened_at < (($2::date + interval '1 month')::timestamp AT TIME ZONE '{LOCAL_TZ}')
)
SELECT day,
       count(*) AS requests,
       count(first_accept_at) AS answered,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY ttfa) AS ttfa_median_s,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY ttfa) AS ttfa_p90_s,
       count(*) FILTER (WHERE outcome = 'resolved') AS resolved,
       count(*) FILTER (WHERE outcome = 'ended') AS ended,
       count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE outcome = 'referred') AS referred,
       count(*) FILTER (WHERE outcome = 'expired') AS expired,
       coalesce(sum(escalations), 0)::int AS escalations,
       count(*) FILTER (WHERE whistled_at IS NOT NULL) AS whistles
FROM r GROUP BY GROUPING SETS ((day), ()) ORDER BY day NULLS LAST
"""

# Per helper, over the requests opened this month: the requests they helped with, and their
# service hours. Helped = an accepted assignment that ended in help as far as the record
# knows: marked done while it was theirs, or still held when the request closed (resolved by
# the requester, staff or the helpers; ended by its lifetime with nobody confirming; referred
# to 120/110/119, which keeps its helpers). Not helped: withdrawn (去不了了), a no-show, stood
# down by a cancellation or a referral elsewhere before "done" (told 无需再来: even one on
# the way had not helped yet, as far as anyone recorded), or a request still open. Before
# session 40 only "done" counted, so a helper whose requester confirmed it resolved before
# they pressed 已完成 was told they had taken no request.
# Service hours are only the minutes each helper's "done" recorded (given, or accept to done);
# an assignment nobody marked done counts none, whatever the request's lifetime was, nor
# one done only after it was released (stood down by a cancellation or referral, withdrawn:
# a page left open; the core refuses such a done since review 30, older logs hold some).
HELPERS_SQL = f"""
WITH a AS (
  SELECT a.helper_id, a.minutes_spent,
         a.done_at IS NOT NULL AND (a.released_at IS NULL OR a.done_at <= a.released_at) AS done,
         a.released_at IS NULL AND q.closed_at IS NOT NULL AS held_to_close
  FROM assignments a JOIN requests q USING (request_id)
  WHERE q.community_id = $1
    AND q.opened_at >= ($2::date::timestamp AT TIME ZONE '{LOCAL_TZ}')
    AND q.opened_at < (($2::date + interval '1 month')::timestamp AT TIME ZONE '{LOCAL_TZ}')
)
SELECT helper_id, count(*) AS assignments,
       round(coalesce(sum(minutes_spent) FILTER (WHERE done), 0) / 60.0, 2)::float8
         AS service_hours
FROM a WHERE done OR held_to_close
GROUP BY helper_id ORDER BY service_hours DESC, helper_id
"""


async def month_days(db: Db, community_id: str, first: date) -> list[Row]:
    """One row per local day with requests, then the month's (its `day` is None)."""
    return [dict(r) for r in await db.fetch(DAYS_SQL, community_id, first)]


async def service_hours(db: Db, community_id: str, first: date) -> list[Row]:
    """Per helper, of requests opened this month: the assignments they helped with
    (`assignments`: marked done, or held to the request's close) and their service hours
    (from "done" only: 0 for one the requester or staff resolved first)."""
    return [dict(r) for r in await db.fetch(HELPERS_SQL, community_id, first)]

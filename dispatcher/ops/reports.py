"""Monthly reports per community: per day and for the month, plus volunteer service hours.

Definitions (also in deploy/README.md):
- a request counts on the local (UTC+8) day it was opened;
- answered = at least one helper accepted; answered rate = answered / requests;
- time to first accept = first_accept_at - opened_at, over answered requests;
- escalations = `ring_escalated` events in the log; whistles = requests whistled;
- service hours = for each assignment of a *resolved* request that was not released by a
  withdrawal or no-show: assigned_at -> its release at resolution (or closed_at), capped
  at 12 h per assignment (a request left open overnight is not a night of service).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from dispatcher.ops.dashboard_data import LOCAL_TZ

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_ASSIGNMENT_HOURS = 12

DAY_COLUMNS = (
    "day",
    "requests",
    "answered",
    "answered_rate",
    "ttfa_median_s",
    "ttfa_p90_s",
    "resolved",
    "cancelled",
    "referred",
    "expired",
    "escalations",
    "whistles",
)
HELPER_COLUMNS = ("helper_id", "assignments", "service_hours")

# $1 community, $2 first day of month (local), grouping by local day with a month total.
DAYS_SQL = f"""
WITH r AS (
  SELECT q.*, (q.opened_at AT TIME ZONE '{LOCAL_TZ}')::date AS day,
         EXTRACT(EPOCH FROM q.first_accept_at - q.opened_at) AS ttfa,
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
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfa) AS ttfa_median_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfa) AS ttfa_p90_s,
       count(*) FILTER (WHERE outcome = 'resolved') AS resolved,
       count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE outcome = 'referred') AS referred,
       count(*) FILTER (WHERE outcome = 'expired') AS expired,
       coalesce(sum(escalations), 0)::int AS escalations,
       count(*) FILTER (WHERE whistled_at IS NOT NULL) AS whistles
FROM r GROUP BY GROUPING SETS ((day), ()) ORDER BY day NULLS LAST
"""

HELPERS_SQL = f"""
SELECT a.helper_id, count(*) AS assignments,
       round(sum(LEAST(
         EXTRACT(EPOCH FROM coalesce(a.released_at, q.closed_at) - a.assigned_at) / 3600.0,
         {MAX_ASSIGNMENT_HOURS}))::numeric, 2)::float8 AS service_hours
FROM assignments a JOIN requests q USING (request_id)
WHERE q.community_id = $1 AND q.outcome = 'resolved'
  AND (a.released_why IS NULL OR a.released_why = 'resolved')
  AND q.opened_at >= ($2::date::timestamp AT TIME ZONE '{LOCAL_TZ}')
  AND q.opened_at < (($2::date + interval '1 month')::timestamp AT TIME ZONE '{LOCAL_TZ}')
GROUP BY a.helper_id ORDER BY service_hours DESC, a.helper_id
"""


def parse_month(month: str) -> date:
    if not MONTH_RE.match(month):
        raise ValueError(f"month must look like 2026-11, not {month!r}")
    year, mon = month.split("-")
    return date(int(year), int(mon), 1)


@dataclass(frozen=True)
class MonthReport:
    community_id: str
    month: str
    days: list[dict[str, Any]]  # one per local day with requests
    total: dict[str, Any]  # the month
    helpers: list[dict[str, Any]]  # service hours per helper

    def as_json(self) -> dict[str, Any]:
        return {
            "community_id": self.community_id,
            "month": self.month,
            "days": self.days,
            "total": self.total,
            "helpers": self.helpers,
        }


def _clean(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["day"] = row["day"].isoformat() if row.get("day") else None
    row["answered_rate"] = round(row["answered"] / row["requests"], 4) if row["requests"] else None
    for key in ("ttfa_median_s", "ttfa_p90_s"):
        if row[key] is not None:
            row[key] = round(float(row[key]), 1)
    return {c: row[c] for c in DAY_COLUMNS}


async def month_report(
    conn: asyncpg.Connection | asyncpg.Pool, community_id: str, month: str
) -> MonthReport:
    first = parse_month(month)
    rows = [_clean(r) for r in await conn.fetch(DAYS_SQL, community_id, first)]
    total = next(r for r in rows if r["day"] is None)
    total["day"] = month
    helpers = [dict(r) for r in await conn.fetch(HELPERS_SQL, community_id, first)]
    return MonthReport(community_id, month, [r for r in rows if r is not total], total, helpers)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) gets a leading
    apostrophe: ids come from ledgers, and a report is opened in Excel/WPS by staff."""
    return {
        k: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
        for k, v in row.items()
    }


def days_csv(report: MonthReport) -> str:
    """Per-day rows, then the month's total (its `day` is the month, e.g. 2026-11)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["community_id", *DAY_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in [*report.days, report.total]:
        writer.writerow(csv_safe({"community_id": report.community_id, **row}))
    return out.getvalue()


def helpers_csv(report: MonthReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["community_id", "month", *HELPER_COLUMNS], lineterminator="\n"
    )
    writer.writeheader()
    for row in report.helpers:
        writer.writerow(
            csv_safe({"community_id": report.community_id, "month": report.month, **row})
        )
    return out.getvalue()


def render_text(report: MonthReport) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}" if v < 10 else f"{v:.0f}"
        return str(v)

    lines = [f"community {report.community_id} — {report.month} (days are UTC+8)", ""]
    widths = [max(len(c), 10) for c in DAY_COLUMNS]
    lines.append("  ".join(c.rjust(w) for c, w in zip(DAY_COLUMNS, widths, strict=True)))
    for row in [*report.days, report.total]:
        cells = [fmt(row[c]) for c in DAY_COLUMNS]
        lines.append("  ".join(v.rjust(w) for v, w in zip(cells, widths, strict=True)))
    lines += ["", "volunteer service hours (resolved requests)"]
    if not report.helpers:
        lines.append("  (none)")
    for h in report.helpers:
        lines.append(
            f"  {h['helper_id']:<24} {h['assignments']:>4} assignments  "
            f"{h['service_hours']:>7.2f} h"
        )
    return "\n".join(lines)

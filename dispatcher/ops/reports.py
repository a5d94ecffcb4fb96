"""Monthly reports per community: per day and for the month, plus volunteer service hours.

Definitions (also in deploy/README.md):
- a request counts on the local (UTC+8) day it was opened;
- answered = at least one helper accepted; answered rate = answered / requests;
- time to first accept = first_accept_at - when neighbours were first asked (the opening;
  for a request held for quiet hours its release, or its first offer when a team staff
  called during the hold accepted first: `ASKED_FROM`), over answered requests; its median
  and p90 are nearest rank (a time that happened, as dispatcher/stats.py), not interpolated;
- resolved = closed as done by the requester, staff or every helper's 已完成; ended =
  到时结束（有邻居接单，未确认完成）: a helper held it when its lifetime ran out and nobody
  said it was done (the core closes it as resolved by the system), counted apart, never as
  resolved; cancelled, referred as they say; expired = nobody held it at the end (none
  accepted, or all withdrew: accepted, then withdrawn, then its lifetime over counts
  answered and expired);
- escalations = `ring_escalated` events in the log; whistles = requests whistled;
- service hours = for each assignment the helper marked "done": the minutes they gave,
  or the time from accepting to "done", at most to the request's closing and 24 h
  (counted by the core, dispatcher/core/assignment_commands.py); never a request's
  lifetime. Withdrawn, stood down (cancelled, referred) before "done", or unfinished: none;
- assignments (per helper) = requests helped: marked done, or still held when the request
  closed (resolved, ended, referred to 120/110/119); not withdrawn, no-shows, stood down
  before "done", or still open. The helpers' month summary sends the same figures.
CSV: UTF-8 with a byte order mark (Excel), cells a spreadsheet would run escaped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from dispatcher.record.db import Db, Row
from dispatcher.record.read import communities
from dispatcher.record.read import reports as read_reports

MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")  # fullmatch: ASCII, no trailing newline

DAY_COLUMNS = (
    "day",
    "requests",
    "answered",
    "answered_rate",
    "ttfa_median_s",
    "ttfa_p90_s",
    "resolved",
    "ended",
    "cancelled",
    "referred",
    "expired",
    "escalations",
    "whistles",
)
HELPER_COLUMNS = ("helper_id", "assignments", "service_hours")
# The month report's own line for them (`ended`: a helper held it when its lifetime ran out).
ENDED_LABEL = "ended 到时结束（有邻居接单，未确认完成）"


def parse_month(month: str) -> date:
    if not MONTH_RE.fullmatch(month):
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


def _clean(record: Row) -> dict[str, Any]:
    row = dict(record)
    row["day"] = row["day"].isoformat() if row.get("day") else None
    row["answered_rate"] = round(row["answered"] / row["requests"], 4) if row["requests"] else None
    for key in ("ttfa_median_s", "ttfa_p90_s"):
        if row[key] is not None:
            row[key] = round(float(row[key]), 1)
    return {c: row[c] for c in DAY_COLUMNS}


class UnknownCommunityError(LookupError):
    """No helper, request or roster entry ever named this community: a misspelt id, which
    would otherwise read as a month with nothing in it."""

    def __init__(self, community_id: str) -> None:
        super().__init__(f"unknown community {community_id!r}")


async def month_report(
    conn: Db, community_id: str, month: str, *, configured: bool = False
) -> MonthReport:
    """`configured`: the caller knows the community from its own configuration (a staff
    account made for it), so a community with no data yet has an empty month, not 404."""
    first = parse_month(month)
    if not configured and not await communities.known(conn, community_id):
        raise UnknownCommunityError(community_id)
    rows = [_clean(r) for r in await read_reports.month_days(conn, community_id, first)]
    total = next(r for r in rows if r["day"] is None)
    total["day"] = month
    helpers = await read_reports.service_hours(conn, community_id, first)
    return MonthReport(community_id, month, [r for r in rows if r is not total], total, helpers)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) gets a leading
    apostrophe: ids come from ledgers, and a report is opened in Excel/WPS by staff."""
    return {
        k: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
        for k, v in row.items()
    }


# Excel on a Chinese Windows reads a CSV without a byte order mark as GBK and garbles
# Chinese helper ids: both exports (CLI --csv, the API's CSV) start with one.
CSV_BOM = "\ufeff"


def _csv(fieldnames: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_safe(row) for row in rows)
    return out.getvalue()


def days_csv(report: MonthReport) -> str:
    """Per-day rows, then the month's total (its `day` is the month, e.g. 2026-11)."""
    rows = [{"community_id": report.community_id, **r} for r in [*report.days, report.total]]
    return _csv(["community_id", *DAY_COLUMNS], rows)


def helpers_csv(report: MonthReport) -> str:
    head = {"community_id": report.community_id, "month": report.month}
    return _csv(["community_id", "month", *HELPER_COLUMNS], [{**head, **r} for r in report.helpers])


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
        cells = [fmt(row.get(c)) for c in DAY_COLUMNS]
        lines.append("  ".join(v.rjust(w) for v, w in zip(cells, widths, strict=True)))
    lines.append(f"{ENDED_LABEL}: {fmt(report.total.get('ended'))} (not counted as resolved)")
    lines += ["", "volunteers: requests helped (done, or held to the close); hours from done"]
    if not report.helpers:
        lines.append("  (none)")
    for h in report.helpers:
        lines.append(
            f"  {h['helper_id']:<24} {h['assignments']:>4} assignments  "
            f"{h['service_hours']:>7.2f} h"
        )
    return "\n".join(lines)

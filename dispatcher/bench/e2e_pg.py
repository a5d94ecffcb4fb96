"""PostgreSQL's own account of a bench run: which statements its time per request went to.

`bench e2e` reads PostgreSQL's CPU per request from the OS (e2e_cpu.py); this says where it
goes, from the `pg_stat_statements` extension: before and after each fixed-rate run, the
counters of the run's database, and their difference per dispatched request (calls and
milliseconds of execution; an explicit transaction's COMMIT is a statement of its own,
while the WAL flush ending a single-statement transaction is in no statement's time). The
extension must be loaded when PostgreSQL starts, so it is opt-in: start the stack with
`DISPATCH_PG_STAT_STATEMENTS=1` (deploy/local/stack.sh); otherwise the bench says
so once and reports nothing. Statement texts are PostgreSQL's normalised ones (every
constant replaced by `$n`), so no value a request carried can appear in the report.

Execution time is not CPU time (a statement waiting for a lock or a flush counts too), but
the ranking tells which statement to fold, batch or drop next. `track=top` counts each
client statement once (a function's inner statements are inside its call), so the
per-request totals add up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

HOW_TO_ENABLE = (
    "PostgreSQL statements not reported: start the stack with DISPATCH_PG_STAT_STATEMENTS=1 "
    "(deploy/local/stack.sh down && DISPATCH_PG_STAT_STATEMENTS=1 deploy/local/stack.sh up)"
)
QUERY_CHARS = 120


@dataclass(frozen=True)
class Counters:
    query: str
    calls: int
    total_ms: float
    rows: int


Snapshot = Mapping[int, Counters]  # by queryid


def shorten(query: str) -> str:
    """One line, at most QUERY_CHARS: enough to recognise the statement in the code."""
    flat = re.sub(r"\s+", " ", query).strip()
    return flat if len(flat) <= QUERY_CHARS else flat[: QUERY_CHARS - 1] + "…"


def per_request(before: Snapshot, after: Snapshot, requests: int, top: int) -> dict[str, Any]:
    """The run's statements (after − before), the `top` by execution time, per request."""
    n = max(1, requests)
    rows = []
    for qid, a in after.items():
        b = before.get(qid)
        calls = a.calls - (b.calls if b else 0)
        ms = a.total_ms - (b.total_ms if b else 0.0)
        if calls > 0:
            rows.append((ms, calls, a))
    rows.sort(key=lambda r: r[0], reverse=True)
    total_ms = sum(ms for ms, _, _ in rows)
    return {
        "requests": requests,
        "exec_ms_per_request": round(total_ms / n, 3),
        "calls_per_request": round(sum(c for _, c, _ in rows) / n, 2),
        "top": [
            {
                "query": shorten(a.query),
                "calls_per_request": round(calls / n, 3),
                "mean_us": round(ms / calls * 1000, 1),
                "ms_per_request": round(ms / n, 4),
                "share": round(ms / total_ms, 3) if total_ms else 0.0,
            }
            for ms, calls, a in rows[:top]
        ],
    }


def pg_lines(pg: dict[str, Any] | None, n: int) -> list[str]:
    """A `per_request` result in a few lines: the total, then the `n` costliest statements."""
    if not pg:
        return []
    head = (
        f"PostgreSQL per request: {pg['exec_ms_per_request']} ms executing, "
        f"{pg['calls_per_request']} statements"
    )
    return [head] + [
        f"{t['ms_per_request']:.3f} ms ({t['calls_per_request']} × {t['mean_us']} µs) {t['query']}"
        for t in pg["top"][:n]
    ]


class StatementMeter:
    """Snapshots of one database's statement counters; `None` when the extension is off."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def enable(self) -> bool:
        """Create the extension in the run's database if PostgreSQL preloaded it."""
        conn = await asyncpg.connect(self.dsn)
        try:
            preload = await conn.fetchval("SHOW shared_preload_libraries")
            if "pg_stat_statements" not in (preload or ""):
                return False
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            return True
        finally:
            await conn.close()

    async def snapshot(self) -> dict[int, Counters]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                """
                SELECT queryid, query, calls, total_exec_time, rows
                  FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND queryid IS NOT NULL
                   AND query NOT LIKE '%pg_stat_statements%'  -- the meter's own reads
                """
            )
        finally:
            await conn.close()
        out: dict[int, Counters] = {}
        for r in rows:  # the same statement by two users is two rows: add them up
            old = out.get(r["queryid"])
            c = Counters(r["query"], r["calls"], r["total_exec_time"], r["rows"])
            if old is not None:
                c = Counters(
                    old.query, old.calls + c.calls, old.total_ms + c.total_ms, old.rows + c.rows
                )
            out[r["queryid"]] = c
        return out

"""A request a helper took and nobody said was done, closed by the end of its lifetime
(`RequestResolved(by=system)`, dispatcher/core/ladder.py `end_of_lifetime`), is recorded with
outcome 'ended' (status still 'resolved') by both recording paths, counted apart by the
worker's metrics, the month report and the dashboard (到时结束), never as resolved
(session 39). The real stack and PostgreSQL: tests/integration/test_ended_outcome_s39.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from dispatcher.ops.reports import DAY_COLUMNS, MonthReport, days_csv, render_text
from dispatcher.record.projection_rows import HANDLERS
from dispatcher.record.projection_steps import TOUCHES
from schemas.events import Event
from tests.support import ended_s39

STATIC = Path(__file__).parents[2] / "dispatcher" / "ops" / "static"


def resolutions() -> dict[str, Event]:
    return ended_s39.resolutions(ended_s39.timeline())


EXPECTED = {rid: v for rid, v in ended_s39.EXPECTED.items() if rid != "req-expired"}


def test_the_set_based_path_writes_ended_for_a_resolution_by_the_system() -> None:
    touch = TOUCHES["request_resolved"]
    assert "outcome = u.o" in touch.sql and "status = u.s" in touch.sql
    got = {}
    for rid, e in resolutions().items():
        values = {name: value(e) for name, _, _, value in touch.cols}
        got[rid] = (values.get("s"), values["o"])
    assert got == EXPECTED


class Recording:
    """Stands for asyncpg's connection: keeps each statement and its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.calls.append((sql, args))
        return "UPDATE 1"


async def test_the_one_by_one_path_writes_ended_for_a_resolution_by_the_system() -> None:
    got = {}
    for rid, e in resolutions().items():
        conn = Recording()
        await HANDLERS["request_resolved"](conn, e, e.body.model_dump())  # type: ignore[arg-type]
        [(sql, args)] = conn.calls
        assert "status = $3, outcome = $4" in sql, sql
        got[rid] = (args[2], args[3])
    assert got == EXPECTED


def test_the_worker_counts_an_ended_request_apart() -> None:
    registry = CollectorRegistry()
    metrics = EventMetrics(DispatchMetrics.create(registry))
    events = resolutions()
    metrics.observe_all(list(events.values()))

    def closed(outcome: str) -> float | None:
        labels = {"outcome": outcome, "urgency": "unknown"}
        return registry.get_sample_value("dispatch_requests_closed_total", labels)

    # Their openings were not in this batch: urgency "unknown", as after a restart unseeded.
    assert (closed("resolved"), closed("ended")) == (2, 1)


def _report(ended: int) -> MonthReport:
    total: dict[str, Any] = dict.fromkeys(DAY_COLUMNS, 0)
    total |= {"day": "2026-12", "requests": 3, "answered": 3, "resolved": 2, "ended": ended}
    total |= dict.fromkeys(("answered_rate", "ttfa_median_s", "ttfa_p90_s"), None)
    return MonthReport("c1", "2026-12", [], total, [])


def test_the_month_report_shows_ended_on_its_own() -> None:
    assert "ended" in DAY_COLUMNS
    text = render_text(_report(1))
    assert "ended 到时结束（有邻居接单，未确认完成）: 1 (not counted as resolved)" in text
    header, row = days_csv(_report(1)).lstrip("\ufeff").splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["resolved"], cells["ended"]) == ("2", "1")


def test_the_dashboard_says_ended_not_resolved() -> None:
    js = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    html = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    assert 'resolved: "已解决", ended: "到时结束",' in js  # the status words (`s`)
    # The live event patches the row as the snapshot will have it, and names it so.
    assert 'ev.type === "request_resolved" && ev.by === "system"' in js
    assert 'r.outcome = endedByTime(ev) ? "ended" : r.status;' in js
    assert 'request_ended: "到时结束（有邻居接单，未确认完成）"' in js
    assert '[c.ended, "ended"]' in js and '<th data-i18n="ended">到时结束</th>' in html
    assert "innerHTML" not in js  # textContent only

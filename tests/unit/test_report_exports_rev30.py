"""Review 30: the CSV exports open in Excel on a Chinese Windows (UTF-8 with a byte order
mark), `simulate --from-db --since` starts at local midnight as `--start` does, and the
page says a late "done" after a stand-down recorded no service time."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

import dispatcher.ops.report_cli as report_cli
import dispatcher.simulate.history as history
from dispatcher.api.assignment_pages import REFUSED, refusal_text
from dispatcher.ops.reports import MonthReport, days_csv, helpers_csv
from dispatcher.simulate.behaviour import load_behaviour
from dispatcher.simulate.world import local_midnight

BOM = b"\xef\xbb\xbf"


def _report(helper_id: str) -> MonthReport:
    total = {
        "day": "2026-11",
        "requests": 1,
        "answered": 1,
        "answered_rate": 1.0,
        "ttfa_median_s": 12.0,
        "ttfa_p90_s": 12.0,
        "resolved": 1,
        "cancelled": 0,
        "referred": 0,
        "expired": 0,
        "escalations": 0,
        "whistles": 0,
    }
    helpers = [{"helper_id": helper_id, "assignments": 1, "service_hours": 0.5}]
    return MonthReport("siming-zhonghua", "2026-11", [], total, helpers)


@pytest.mark.parametrize("export", [days_csv, helpers_csv])
def test_both_csv_tables_start_with_a_utf8_byte_order_mark(export):
    body = export(_report("中华-志愿者07")).encode("utf-8")
    assert body.startswith(BOM)
    assert not body[len(BOM) :].startswith(BOM)  # one mark, before the header
    # Excel takes the mark as the encoding: the Chinese id reads back exactly.
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "community_id"
    if export is helpers_csv:
        assert rows[1][2] == "中华-志愿者07"


def test_the_bom_keeps_the_formula_escaping():
    rows = list(csv.reader(io.StringIO(helpers_csv(_report("=HYPERLINK(1)")).lstrip("\ufeff"))))
    assert rows[1][2] == "'=HYPERLINK(1)"


def test_the_cli_writes_the_csv_as_utf8_bytes_whatever_the_locale(monkeypatch, capsysbinary):
    report = _report("中华-志愿者07")

    async def run(args: Any) -> str:
        return helpers_csv(report)

    monkeypatch.setattr(report_cli, "_run", run)
    # A terminal in GBK: the text stream would write the id in GBK (and no mark).
    gbk = io.TextIOWrapper(sys.stdout.buffer, encoding="gbk")
    monkeypatch.setattr(sys, "stdout", gbk)
    args = ["--community", "siming-zhonghua", "--month", "2026-11", "--csv", "--helpers"]
    assert report_cli.main(args) == 0
    gbk.flush()
    gbk.detach()  # the captured stream stays open
    out = capsysbinary.readouterr().out
    assert out == helpers_csv(report).encode("utf-8")
    assert out.startswith(BOM)


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("2026-11-01", local_midnight("2026-11-01")),
        ("2026-11-01T08:30", datetime(2026, 11, 1, 0, 30, tzinfo=UTC)),  # 08:30 local
        ("2026-11-01T00:00+00:00", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_since_starts_where_start_does(monkeypatch, since, expected):
    seen: dict[str, datetime] = {}

    async def rows(community: str, start: datetime) -> list[Any]:
        seen["since"] = start
        return []

    monkeypatch.setattr(history, "_rows", rows)
    with pytest.raises(ValueError, match="no helper"):
        history.fit_from_db(load_behaviour(None), community="c", since=since)
    assert seen["since"] == expected


def test_since_a_date_is_the_local_midnight_not_utc():
    assert history.since_instant("2026-11-01") == datetime(2026, 10, 31, 16, tzinfo=UTC)


def test_a_late_done_refused_as_closed_says_no_time_was_recorded():
    assert "不记录服务时长" in refusal_text("done", "request_closed")
    assert refusal_text("on-my-way", "request_closed") == REFUSED["request_closed"]
    assert refusal_text("done", "already_done") == REFUSED["already_done"]
    assert refusal_text("done", "something_new") == refusal_text("cant-come", "something_new")

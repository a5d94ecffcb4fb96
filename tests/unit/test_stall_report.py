"""`stall_report`: what a worker whose generation stays unserved logs (streams/faust_recovery.py).
Pure: fakes stand in for Faust's app, consumer and recovery."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from dispatcher.settings import Settings
from streams import faust_recovery
from streams.app import create_faust_app
from streams.faust_recovery import SeekFirstRecovery, stall_report

APP_ID = "dispatch-t1"


def fakes(**recovery: Any) -> tuple[Any, Any]:
    tps = {TP(f"{APP_ID}-commands", p) for p in range(4)} | {
        TP(f"{APP_ID}-helpers-changelog", p) for p in range(4)
    }
    consumer = SimpleNamespace(
        assignment=lambda: tps,
        flow_active=True,
        _paused_partitions={TP(f"{APP_ID}-commands", 2)},
        _unacked_messages=set(),
    )
    app = SimpleNamespace(
        conf=SimpleNamespace(id=APP_ID),
        consumer=consumer,
        consumer_generation_id=7,
        rebalancing=True,
        flow_control=SimpleNamespace(is_active=lambda: False),
    )
    remaining: Counter[TP] = Counter({TP(f"{APP_ID}-helpers-changelog", 3): 11})
    rec = SimpleNamespace(
        ready_generation=6,
        in_recovery=True,
        signal_recovery_start=asyncio.Event(),
        active_remaining=lambda: remaining,
        **recovery,
    )
    return app, rec


def test_says_which_generation_waits_for_which_changelog_records() -> None:
    app, rec = fakes()
    report = stall_report(app, rec)
    assert "generation 7, ready 6, rebalancing True, in recovery True" in report
    assert "changelog records missing {'helpers-changelog[3]': 11}" in report
    assert "consumer flow on, queues off" in report
    assert "assigned {" in report and "'commands': 4" in report
    assert "paused 1, unacked 0" in report


def test_nothing_missing_reads_as_zero() -> None:
    app, rec = fakes()
    rec.active_remaining = lambda: Counter()
    assert "changelog records missing 0;" in stall_report(app, rec)


def no_consumer_yet(app: object, rec: object) -> str:
    raise RuntimeError("ConsumerNotStarted")  # as the driver raises before its thread runs


@pytest.mark.parametrize(
    ("report", "logged"),
    [(lambda app, rec: "the report", "the report"), (no_consumer_yet, "(no report: Runtime")],
)
async def test_a_worker_left_unserved_logs_the_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    report: Callable[[object, object], str],
    logged: str,
) -> None:
    """The recovery's watchdog task logs `stall_report` while the generation stays unserved;
    a report that fails is logged as such, and the task (a Faust service task: an exception
    there would crash the worker) goes on."""
    app = create_faust_app(Settings(data_dir=tmp_path), "stall")
    recovery = app.tables.recovery
    assert isinstance(recovery, SeekFirstRecovery)
    monkeypatch.setattr(faust_recovery, "STALL_REPORT_S", 0.15)
    monkeypatch.setattr(faust_recovery, "stall_report", report)
    app.rebalancing = True  # assigned, never recovered: generation 0, ready -1
    caplog.set_level(logging.WARNING)
    task = asyncio.ensure_future(SeekFirstRecovery._report_stalls.fun(recovery))
    await asyncio.sleep(0.6)
    assert not task.done()
    task.cancel()
    assert any(
        "generation not served" in r.getMessage() and logged in r.getMessage()
        for r in caplog.records
    )

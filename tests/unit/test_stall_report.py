"""`stall_report`: what a worker whose generation stays unserved logs (streams/faust_recovery.py).
Pure: fakes stand in for Faust's app, consumer and recovery."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.faust_recovery import stall_report

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

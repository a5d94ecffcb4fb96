"""`bench e2e --compare`: each run's figures and each tree's medians (pure parts)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from dispatcher.bench import e2e_compare
from dispatcher.bench.e2e_args import env_arg
from dispatcher.bench.e2e_compare import _figures, summarise
from dispatcher.bench.e2e_options import Options
from dispatcher.bench.e2e_stack import bench_stack


def run(intake: float, worker_cpu: float, p99_at_50: float) -> dict[str, Any]:
    return {
        "intake_p50_ms": intake,
        "ceiling_req_s_one_worker": None,
        "cpu_ms_per_request": {"total": worker_cpu + 1, "per_process": {"worker-1": worker_cpu}},
        "scenarios": [
            {
                "kind": "fixed_rate",
                "name": "intake_to_first_offer",
                "offered_rate": 50.0,
                "p50_ms": 1.0,
                "p99_ms": p99_at_50,
            },
            {"kind": "fixed_rate", "name": "intake_http_202", "offered_rate": 50.0, "p99_ms": 9},
            {
                "kind": "fixed_rate",
                "name": "answer_to_first_offer",
                "offered_rate": 50.0,
                "p50_ms": 0.5,
                "p99_ms": p99_at_50 / 2,
            },
            {
                "kind": "fixed_rate",
                "name": "answer_to_offer_record",
                "offered_rate": 50.0,
                "p50_ms": 0.25,
                "p99_ms": p99_at_50 / 4,
            },
            {
                "kind": "fixed_rate",
                "name": "intake_to_phone",
                "offered_rate": 50.0,
                "p50_ms": 6.0,
                "p99_ms": p99_at_50 * 2,
            },
            {
                "kind": "fixed_rate",
                "name": "offer_record_to_observer",
                "offered_rate": 50.0,
                "p50_ms": 1.5,
                "p99_ms": 4.5,
            },
            {
                "kind": "fixed_rate",
                "name": "offer_record_to_phone",
                "offered_rate": 50.0,
                "p50_ms": 4.0,
                "p99_ms": 11.0,
            },
        ],
    }


def test_figures_take_the_headline_cpu_per_process_and_first_offer_by_rate() -> None:
    f = _figures(run(3.0, 7.5, 40.0))
    assert f["intake_p50_ms"] == 3.0
    assert f["cpu_ms_per_request"] == 8.5
    assert f["cpu_ms_per_request.worker-1"] == 7.5
    assert f["first_offer_p99_ms@50"] == 40.0
    assert "first_offer_p99_ms@50.0" not in f  # rates print as the user typed them
    assert (f["offer_after_202_p50_ms@50"], f["offer_after_202_p99_ms@50"]) == (0.5, 20.0)
    assert (f["offer_record_after_202_p50_ms@50"], f["offer_record_after_202_p99_ms@50"]) == (
        0.25,
        10.0,
    )
    assert (f["phone_p50_ms@50"], f["phone_p99_ms@50"]) == (6.0, 80.0)
    assert (f["phone_after_offer_record_p50_ms@50"], f["phone_after_offer_record_p99_ms@50"]) == (
        4.0,
        11.0,
    )
    assert (
        f["observer_after_offer_record_p50_ms@50"],
        f["observer_after_offer_record_p99_ms@50"],
    ) == (
        1.5,
        4.5,
    )
    assert not any(k.startswith("intake_http_202") for k in f)  # not a compared scenario


def test_figures_take_the_intakes_phases_when_reported() -> None:
    assert not any(k.startswith("intake_phase") for k in _figures(run(3.0, 7.5, 40.0)))
    timed = run(3.0, 7.5, 40.0) | {
        "intake_phases_ms": {"statement": {"p50_ms": 0.9, "p99_ms": 3.2}, "queue": {"p50_ms": 0.7}}
    }
    f = _figures(timed)
    assert (f["intake_phase_p50_ms.statement"], f["intake_phase_p99_ms.statement"]) == (0.9, 3.2)
    assert f["intake_phase_p50_ms.queue"] == 0.7 and f["intake_phase_p99_ms.queue"] is None


def test_medians_per_tree_skip_missing_values() -> None:
    runs = [
        {"tree": "base", "figures": _figures(run(10.0, 8.0, 100.0))},
        {"tree": "this", "figures": _figures(run(2.0, 4.0, 30.0))},
        {"tree": "base", "figures": _figures(run(14.0, 9.0, 120.0))},
        {"tree": "this", "figures": _figures(run(3.0, 5.0, 50.0))},
    ]
    m = summarise(runs)
    assert m["intake_p50_ms"] == {"base": 12.0, "this": 2.5}
    assert m["cpu_ms_per_request.worker-1"] == {"base": 8.5, "this": 4.5}
    assert m["ceiling_req_s_one_worker"] == {"base": None, "this": None}


def test_base_env_takes_dispatch_settings_only() -> None:
    assert env_arg("DISPATCH_NOTIFY_EARLY=false") == ("DISPATCH_NOTIFY_EARLY", "false")
    assert env_arg("DISPATCH_X=a=b") == ("DISPATCH_X", "a=b")
    for bad in ("NOTIFY_EARLY=false", "DISPATCH_NOTIFY_EARLY", "dispatch_x=1", "PATH=/tmp"):
        with pytest.raises(argparse.ArgumentTypeError):
            env_arg(bad)


def test_the_base_alone_runs_with_the_base_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--compare HEAD --base-env K=V`: one tree, a setting compared; the settings reach
    only the base's runs, and the bench's stack puts them over its own."""
    seen: list[tuple[Path | None, tuple[tuple[str, str], ...]]] = []

    class FakeBench:
        def __init__(self, opts: Options, progress: Any) -> None:
            seen.append((opts.code_dir, opts.extra_env))

        async def run(self) -> dict[str, Any]:
            return {}

    monkeypatch.setattr(e2e_compare, "Bench", FakeBench)
    monkeypatch.setattr(e2e_compare, "resolve", lambda rev: "f" * 40)
    monkeypatch.setattr(e2e_compare, "extract", lambda commit, tmp, packages: tmp / "base")
    own = (("DISPATCH_LOG_LEVEL", "INFO"),)
    setting = (("DISPATCH_NOTIFY_EARLY", "false"),)
    result = e2e_compare.compare(Options(extra_env=own), "HEAD", 2, setting)
    assert [env for _, env in seen] == [own + setting, own, own, own + setting]
    assert [d is None for d, _ in seen] == [False, True, True, False]  # base, this, this, base
    assert result["compare"]["base_env"] == {"DISPATCH_NOTIFY_EARLY": "false"}

    stack = bench_stack(
        kafka_bootstrap="127.0.0.1:1",
        pg_port=1,
        partitions=8,
        plan_time_scale=0.1,
        communities=["c1"],
        extra_env=(("DISPATCH_SERVER_TIMING", "false"), *setting),
    )
    assert stack.extra_env["DISPATCH_SERVER_TIMING"] == "false"  # over the bench's "true"
    assert stack.extra_env["DISPATCH_NOTIFY_EARLY"] == "false"

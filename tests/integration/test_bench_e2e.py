"""`python -m dispatcher bench e2e --quick --json` against the real local stack: the
output's shape and sanity only (never a wall-clock bound: this is a measurement)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dispatcher.settings import REPO_ROOT

pytestmark = pytest.mark.integration

SCENARIO_KEYS = {"name", "p50_ms", "p99_ms", "max_ms", "rate", "offered_rate", "count", "workers"}


def _sane(s: dict[str, object]) -> None:
    p50, p99, mx = s["p50_ms"], s["p99_ms"], s["max_ms"]
    assert isinstance(p50, float) and isinstance(p99, float) and isinstance(mx, float), s
    assert 0 <= p50 <= p99 <= mx, s


def test_quick_bench_reports_sane_numbers(_stack_running: None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "bench", "e2e", "--quick", "--json"],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a performance bound
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "floor" in done.stderr  # the progress display
    result = json.loads(done.stdout)

    for key in ("floor_p50_ms", "floor_p99_ms", "e2e_p50_over_floor", "e2e_p99_over_floor"):
        assert isinstance(result[key], float), key
    assert 0 < result["floor_p50_ms"] <= result["floor_p99_ms"]
    # Measured before and after the scenarios; the ratios use the one with the lower p99.
    before, after = result["floor"], result["floor_after"]
    assert isinstance(before["p99_ms"], float) and isinstance(after["p99_ms"], float), after
    assert result["floor_p99_ms"] == min(before["p99_ms"], after["p99_ms"])
    assert (
        result[("floor" if result["floor_used"] == "before" else "floor_after")]["p99_ms"]
        == (result["floor_p99_ms"])
    )
    assert before["broker_age_s"] > 0 and after["broker_age_s"] > before["broker_age_s"]
    # Two Kafka hops, HTTP and PostgreSQL cannot beat one raw Kafka hop.
    assert result["e2e_p50_over_floor"] >= 1
    assert result["machine"]["cores"] >= 1
    speed = result["machine"]["speed"]
    assert speed["python_ms"] > 0 and speed["python_ms_after"] > 0
    assert 0 < speed["loopback_round_trip_us"] <= speed["loopback_round_trip_p99_us"]
    assert result["settings"]["quick"] is True

    scenarios = result["scenarios"]
    names = {s["name"] for s in scenarios}
    assert {"intake_to_first_offer", "intake_to_phone", "deadline_lateness"} <= names
    fixed = [s for s in scenarios if s["kind"] == "fixed_rate"]
    assert {s["offered_rate"] for s in fixed} == set(result["settings"]["rates"])
    for s in scenarios:
        assert set(s) >= SCENARIO_KEYS, s
        if s["name"] in ("intake_to_first_offer", "intake_to_phone"):
            assert s["count"] > 0 and s["rate"] > 0, s
            _sane(s)
        elif s["count"]:
            _sane(s)
    lowest = min(result["settings"]["rates"])
    first = next(
        s for s in fixed if s["name"] == "intake_to_first_offer" and s["offered_rate"] == lowest
    )
    phone = next(s for s in fixed if s["name"] == "intake_to_phone" and s["offered_rate"] == lowest)
    assert first["missing"] == 0 and first["merged"] == 0 and first["http_errors"] == 0
    # Incident keys come back once their requests are recorded closed, and a key reused so
    # never merges a new request into an old one: no run of the bench saw a merge.
    assert result["incident_keys_recycled"] > 0
    for s in scenarios:
        if s["name"] == "intake_to_first_offer":
            assert s["merged"] == 0, s
    assert phone["p50_ms"] >= first["p50_ms"] * 0.5  # the push follows the event

    ceiling = result["throughput_ceiling_rps_1_worker"]
    # None: no search ran; 0: it ran and no rate held (a measurement, not a bound here).
    assert ceiling is None or (isinstance(ceiling, int | float) and ceiling >= 0)
    assert result["ceiling_req_s_one_worker"] == ceiling
    # The goals, judged from this run's own figures.
    g = result["goals"]
    assert g["ceiling_req_s_one_worker"]["value"] == ceiling
    assert g["cpu_ms_per_request.total"]["value"] == result["cpu_ms_per_request"]["total"]
    assert g["intake_p50_ms"]["value"] == result["intake_p50_ms"]
    # A quick run is not the scenario set the goals are about: values, no verdicts.
    assert "quick=True" in g["not_judged"]
    assert all(v["met"] is None for k, v in g.items() if k != "not_judged")

    # Open loop: each request's latency from its scheduled time is at least the one from
    # its actual send, so every percentile is too.
    assert first["p50_ms"] >= first["sent_p50_ms"] and first["p99_ms"] >= first["sent_p99_ms"]
    assert result["intake_offered_rate"] == 50.0
    assert 0 < result["intake_sent_p50_ms"] <= result["intake_p50_ms"] <= result["intake_p99_ms"]
    # The pacer hands a request over once its time has come, never before.
    late = (result["generator_lateness_p50_ms"], result["generator_lateness_p99_ms"])
    assert 0 <= late[0] <= late[1]
    assert first["generator_lateness_p50_ms"] is not None
    cpu = result["cpu_ms_per_request"]
    per = cpu["per_process"]
    assert {"api", "worker-1", "broker", "postgresql", "load_generator", "receiver"} <= set(per)
    assert per["worker-1"] > 0 and per["api"] > 0 and per["broker"] > 0
    assert cpu["total"] >= sum(v for v in per.values() if v is not None) - 0.01

    cleanup = result["cleanup"]
    assert "database_dropped" in cleanup
    assert cleanup["processes_stopped"]

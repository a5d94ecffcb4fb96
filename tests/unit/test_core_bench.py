"""The benchmark command's output shape (at a tiny size; no timing assertions)."""

from __future__ import annotations

import json

import pytest

from dispatcher.bench.cli import main


def test_bench_match_prints_one_json_object_per_size(capsys):
    code = main(
        ["match", "--helpers", "200,400", "--decisions", "5", "--naive-runs", "2", "--json"]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["helpers"] for r in rows] == [200, 400]
    for r in rows:
        assert r["p50_us"] > 0 and r["p99_us"] >= r["p50_us"] and r["naive_p50_us"] > 0
        assert r["agreement_with_scan"] == 1.0


def test_bench_unknown_subcommand_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["warp-drive"])
    assert exc.value.code == 2
    assert "warp-drive" in capsys.readouterr().err


def test_bench_match_compare_runs_both_versions_turn_by_turn(capsys):
    """`--compare REV`: both cores in one run (here HEAD against the working tree), with a
    check that they decide alike; only the output's shape is asserted, never times."""
    code = main(
        [
            "match",
            "--helpers",
            "300",
            "--decisions",
            "30",
            "--naive-runs",
            "2",
            "--compare",
            "HEAD",
            "--json",
        ]
    )
    assert code == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert row["helpers"] == 300 and len(row["baseline_rev"]) == 12
    assert isinstance(row["same_decisions"], bool)
    for side in ("baseline", "current"):
        r = row[side]
        assert r["decisions"] == 30 and r["naive_runs"] == 2
        assert r["p99_us"] >= r["p50_us"] > 0 and r["cpu_p99_us"] >= r["cpu_p50_us"] > 0
        assert r["agreement_with_scan"] == 1.0


def test_bench_match_compare_refuses_an_unknown_revision():
    with pytest.raises(SystemExit, match="unknown revision"):
        main(["match", "--helpers", "10", "--compare", "no-such-rev-xyz"])

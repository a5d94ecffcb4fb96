"""Every answer on the corpus is the stored one: speed work changes no decision.

`tests/data/classifier_corpus/decisions.txt` holds, per message (each corpus message, the
messages joined to 500 characters, one of 100,000), a hash of the text and a hash of the
whole classification, reasons included. After an intended change of the rules, refresh it
with `python -m dispatcher classify decisions --write` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.bench.classify import STAGES
from dispatcher.bench.cli import main as bench_main
from dispatcher.classify import classify
from dispatcher.classify.decisions import corpus_texts, decision_lines

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "classifier_corpus"


def test_every_corpus_answer_is_the_stored_one() -> None:
    texts = corpus_texts(CORPUS)
    stored = (CORPUS / "decisions.txt").read_text(encoding="utf-8").splitlines()
    lines = decision_lines(texts, classify)
    assert len(lines) == len(stored) > 1000, "corpus changed: refresh decisions.txt"
    changed = [
        texts[i][:60]
        for i, (now, then) in enumerate(zip(lines, stored, strict=True))
        if now != then
    ]
    assert not changed, f"{len(changed)} answers changed, e.g. {changed[:5]}"


def test_the_check_sees_a_changed_answer() -> None:
    texts = corpus_texts(CORPUS)[:50]
    plain = decision_lines(texts, classify)
    altered = decision_lines(texts, lambda t: classify(t + "，谢谢"))
    assert [a[:12] for a in plain] == [a[:12] for a in altered]  # same texts named
    assert plain != altered


def test_bench_classify_times_both_trees_by_length(capsys: pytest.CaptureFixture[str]) -> None:
    """`bench classify --compare REV`: HEAD's classifier beside the working tree's, every
    bucket timed in both; only the report's shape is asserted, never a time."""
    assert bench_main(["classify", "--compare", "HEAD", "--rounds", "1", "--limit", "3"]) == 0
    assert "cpu best-of-calls" in capsys.readouterr().out
    args = ["classify", "--compare", "HEAD", "--rounds", "2", "--limit", "2", "--json", "--stages"]
    assert bench_main(args) == 0
    report = json.loads(capsys.readouterr().out)
    for side in ("baseline", "current"):  # each step of `classify`, timed apart
        for row in report["stages"][side].values():
            assert set(row) == {f"{st}_{q}_us" for st in STAGES for q in ("p50", "p99")}
            assert all(0 <= row[f"{st}_p50_us"] <= row[f"{st}_p99_us"] for st in STAGES)
    assert report["messages"] == {"1-50": 2, "51-100": 2, "101-200": 2, "201-500": 2, "100k": 1}
    assert isinstance(report["answers_differing_from_baseline"], int)
    for side in ("baseline", "current"):
        for bucket, row in report[side].items():
            assert row["calls"] == (2 if bucket == "100k" else 2 * 3 * 2)  # rounds × repeat
            for kind in ("cpu", "wall", "cpu_best"):
                assert 0 < row[f"{kind}_p50_us"] <= row[f"{kind}_p99_us"] <= row[f"{kind}_max_us"]

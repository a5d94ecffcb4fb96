"""Accuracy of the classifier on labelled chat messages, per field.

Files (all under tests/data, copied into the project; nothing outside the repo is read):
- chat_messages.jsonl: the product's samples; every field must be right.
- classifier_cases.jsonl: our own set, written before the rules existed (the rules were
  then tuned to it), plus holdout v1 (`origin` says so), tuned against after its first
  measurement.
- classifier_holdout.jsonl: holdout v2, written after tuning and never tuned against;
  reported separately with a lower bar, as an honest estimate on unseen messages.

`expect` semantics: "a or b" accepts either value; `skills` is a list whose every item
("a or b") must meet at least one returned skill; `place_hints` must be a subset.
Run with `-s` to see the per-field report and every miss.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dispatcher.classify import Classification, classify

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("//")]


def field_ok(field: str, expected: Any, got: Classification) -> bool:
    value = getattr(got, field)
    if field == "skills":
        have = {str(s) for s in value}
        return all(any(opt.strip() in have for opt in item.split(" or ")) for item in expected)
    if field == "place_hints":
        hints = value.model_dump(exclude_none=True)
        return all(hints.get(k) == v for k, v in expected.items())
    if isinstance(expected, str):
        return (None if value is None else str(value)) in {
            o.strip() for o in expected.split(" or ")
        }
    return bool(value == expected)


def evaluate(cases: list[dict[str, Any]]) -> tuple[dict[str, tuple[int, int]], list[str]]:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: list[str] = []
    for case in cases:
        got = classify(case["text"])
        expect = case["expect"]
        # Fields other than is_request describe a request; judge them only if it is one.
        fields = expect if expect.get("is_request", True) else {"is_request": False}
        for field, expected in fields.items():
            total[field] += 1
            if field_ok(field, expected, got):
                right[field] += 1
            else:
                shown = getattr(got, field)
                if field == "place_hints":
                    shown = shown.model_dump(exclude_none=True)
                why = list(got.reasons)
                misses.append(f"{field}: want {expected!r} got {shown!r} | {case['text']} | {why}")
    return {f: (right[f], total[f]) for f in total}, misses


def report(name: str, cases: list[dict[str, Any]]) -> dict[str, float]:
    scores, misses = evaluate(cases)
    print(f"\n== {name}: {len(cases)} messages")
    for field, (ok, n) in sorted(scores.items()):
        print(f"  {field:<22} {ok:>3}/{n:<3} {ok / n:6.1%}")
    for miss in misses:
        print("  MISS", miss)
    return {field: ok / n for field, (ok, n) in scores.items()}


def test_product_samples_all_right() -> None:
    cases = load("chat_messages.jsonl")
    assert len(cases) >= 12
    scores = report("samples", cases)
    assert all(score == 1.0 for score in scores.values()), scores


# Bars for our own set (tuned against) and the holdout (never tuned against).
OWN_BAR = {
    "is_request": 0.95,
    "urgency": 0.90,
    "category": 0.85,
    "skills": 0.85,
    "emergency_number": 0.90,
    "advise_emergency_call": 0.90,
    "helpers_needed": 0.85,
    "place_hints": 0.85,
}
# Holdout v2 at first (and only) measurement: is_request 25/30, urgency 18/22,
# category 8/15, skills 6/8. The bar sits just below that: a regression guard, not a goal.
# Do not tune rules to its misses; write a new holdout instead.
HOLDOUT_BAR = {"is_request": 0.80, "urgency": 0.75, "category": 0.50, "skills": 0.70}


@pytest.mark.parametrize(
    ("name", "bar", "minimum"),
    [("classifier_cases.jsonl", OWN_BAR, 120), ("classifier_holdout.jsonl", HOLDOUT_BAR, 30)],
)
def test_accuracy_per_field(name: str, bar: dict[str, float], minimum: int) -> None:
    cases = load(name)
    assert len(cases) >= minimum
    scores = report(name, cases)
    low = {f: round(scores[f], 3) for f, need in bar.items() if f in scores and scores[f] < need}
    assert not low, f"below the bar: {low}"

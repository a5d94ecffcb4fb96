"""Score the classifier on labelled chat messages, field by field. Pure: cases in, report out.

A case is `{"text": …, "expect": {…}, "red_flag": bool}` (one JSON object a line).
`expect` semantics: "a or b" accepts either value; `skills` is a list whose every item
("a or b") must meet at least one returned skill; `place_hints` must be a subset; a field
left out is not judged. Fields other than `is_request` are judged only for messages
labelled as requests. A red-flag message counts for safety recall only when the answer is
critical, advises the call and names the labelled number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dispatcher.classify.model import Classification
from schemas.vocab import Urgency

Case = Mapping[str, Any]
_LEVEL = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.URGENT: 2, Urgency.CRITICAL: 3}
FIELDS = (
    "is_request",
    "urgency",
    "category",
    "skills",
    "helpers_needed",
    "emergency_number",
    "advise_emergency_call",
    "place_hints",
)


def _options(expected: str) -> set[str]:
    return {option.strip() for option in expected.split(" or ")}


def field_ok(field: str, expected: Any, got: Classification) -> bool:
    value = getattr(got, field)
    if field == "skills":
        have = {str(s) for s in value}
        return all(bool(_options(item) & have) for item in expected)
    if field == "place_hints":
        hints = value.model_dump(exclude_none=True)
        return all(hints.get(k) == v for k, v in expected.items())
    if isinstance(expected, str):
        return (None if value is None else str(value)) in _options(expected)
    return bool(value == expected)


def within_one(expected: str, got: Urgency) -> bool:
    return any(abs(_LEVEL[Urgency(o)] - _LEVEL[got]) <= 1 for o in _options(expected))


def _ratio(ok: int, n: int) -> float | None:
    return round(ok / n, 4) if n else None


def evaluate(cases: Iterable[Case], classify: Callable[[str], Classification]) -> dict[str, Any]:
    """Per-field accuracy, is_request precision/recall, safety recall, confusions, failures."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    tp = fp = fn = 0
    near = 0
    safe = red = 0
    false_alarms = calm = 0
    category_confusion: dict[str, Counter[str]] = defaultdict(Counter)
    urgency_confusion: dict[str, Counter[str]] = defaultdict(Counter)
    failures: list[dict[str, Any]] = []
    count = 0
    for case in cases:
        count += 1
        got = classify(case["text"])
        expect: Mapping[str, Any] = case["expect"]
        want_request = bool(expect.get("is_request", True))
        tp += want_request and got.is_request
        fp += (not want_request) and got.is_request
        fn += want_request and not got.is_request
        fields = expect if want_request else {"is_request": False}
        missed: list[str] = []
        for field, expected in fields.items():
            if field not in FIELDS:
                continue
            total[field] += 1
            if field_ok(field, expected, got):
                right[field] += 1
            else:
                missed.append(field)
        if want_request and "urgency" in expect:
            near += within_one(expect["urgency"], got.urgency)
            urgency_confusion[expect["urgency"]][got.urgency.value] += 1
        if want_request and "category" in expect:
            category_confusion[expect["category"]][str(got.category)] += 1
        if case.get("red_flag"):
            red += 1
            number = expect.get("emergency_number")
            ok = got.advise_emergency_call and got.urgency is Urgency.CRITICAL
            ok = ok and (number is None or field_ok("emergency_number", number, got))
            safe += ok
            if not ok:
                missed.append("safety")
        elif "critical" not in _options(str(expect.get("urgency", ""))):
            calm += 1
            if got.advise_emergency_call:
                false_alarms += 1
                missed.append("false_alarm")
        if missed:
            failures.append(
                {
                    "text": case["text"],
                    "fields": missed,
                    "expect": dict(expect),
                    "got": got.model_dump(mode="json", include=set(FIELDS), exclude_none=True),
                    "reasons": list(got.reasons),
                }
            )
    accuracy = {f: _ratio(right[f], total[f]) for f in FIELDS if total[f]}
    return {
        "messages": count,
        "accuracy": accuracy,
        "counts": {f: [right[f], total[f]] for f in FIELDS if total[f]},
        "is_request": {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)},
        "urgency_within_one": _ratio(near, total["urgency"]),
        "safety_recall": _ratio(safe, red),
        "red_flag_messages": red,
        # Messages labelled neither red flag nor possibly critical, told to call anyway.
        "false_alarm_rate": _ratio(false_alarms, calm),
        "false_alarms": false_alarms,
        "confusion": {
            "category": {k: dict(v) for k, v in sorted(category_confusion.items())},
            "urgency": {k: dict(v) for k, v in sorted(urgency_confusion.items())},
        },
        "failures": failures,
    }

"""Bounded work: every pattern has a bounded repeat, input is capped, long inputs are cheap."""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Iterator
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest

from dispatcher.classify import MAX_CHARS, RULES_CHARS, classify
from schemas.vocab import Urgency

# By module path: the package re-exports a function named `normalise`.
_MODULES = [
    importlib.import_module(f"dispatcher.classify.{name}")
    for name in ("counts", "hanzi", "lexicon", "matching", "normalise", "places", "safety")
]
lexicon, normalise = _MODULES[2], _MODULES[4]
# The only unbounded repeats: one character class, replaced as a whole run (linear).
_LINEAR = {normalise._SPACE.pattern, normalise._LONG_DIGITS.pattern}


def _lexicon_patterns() -> Iterator[str]:
    for value in vars(lexicon).values():
        if isinstance(value, list):
            for item in value:
                yield item[0] if isinstance(item, tuple) else item


def _compiled() -> Iterator[str]:
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, re.Pattern):
                yield value.pattern


def _unbounded(parsed: Any) -> bool:
    for op, av in parsed:
        if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
            inners, open_ended = [av[2]], av[1] == sre_parse.MAXREPEAT
        elif op is sre_parse.SUBPATTERN:
            inners, open_ended = [av[-1]], False
        elif op is sre_parse.BRANCH:
            inners, open_ended = list(av[1]), False
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            inners, open_ended = [av[1]], False
        else:
            continue
        if open_ended or any(_unbounded(inner) for inner in inners):
            return True
    return False


def test_every_pattern_repeats_a_bounded_number_of_times() -> None:
    patterns = [*(p for p in _lexicon_patterns() if isinstance(p, str)), *_compiled()]
    assert len(patterns) > 300  # the lexicon's tables and every module's compiled regexes
    offenders = [p for p in patterns if p not in _LINEAR and _unbounded(sre_parse.parse(p))]
    assert offenders == []


def test_the_check_sees_an_unbounded_repeat() -> None:
    assert _unbounded(sre_parse.parse(r"(\d+)楼"))
    assert not _unbounded(sre_parse.parse(r"(\d{1,6})楼"))


# A generous guard, not a timing claim: these take tens of milliseconds; a quadratic
# pattern took seconds on the 4,000-digit run before the bounds.
GUARD_SECONDS = 5.0


@pytest.mark.parametrize(
    "text",
    [
        "1" * 2_000,
        "3号楼" + "1" * 4_000 + "楼",
        "一" * 20_000 + "楼",
        "谁能帮忙" * 25_000,  # 100 KB
        ("我爸晕倒了3号楼2单元502，谁能帮忙" * 5_000)[:100_000],
    ],
    ids=["2000-digits", "digits-between-places", "numerals", "100KB-asks", "100KB-red-flags"],
)
def test_long_inputs_answer_in_bounded_time(text: str) -> None:
    started = time.perf_counter()
    result = classify(text)
    assert time.perf_counter() - started < GUARD_SECONDS
    assert result.helpers_needed >= 1


def test_long_digit_runs_are_cut_before_the_rules() -> None:
    assert normalise.normalise("电话" + "9" * 500) == "电话" + "9" * 12
    assert normalise.normalise("13912345678") == "13912345678"  # a phone number survives


def test_a_red_flag_late_in_a_long_message_still_counts() -> None:
    late = "大家好" * ((RULES_CHARS + 1_000) // 3) + "我爸晕倒了叫不醒"
    assert len(late) > RULES_CHARS
    result = classify(late)
    assert result.urgency is Urgency.CRITICAL and result.emergency_number == "120"
    beyond = "大家好" * (MAX_CHARS // 3 + 10) + "我爸晕倒了叫不醒"
    assert not classify(beyond).advise_emergency_call  # past the cap: not read at all

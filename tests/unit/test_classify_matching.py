"""The fast Table finds exactly what one plain alternation of its rules finds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dispatcher.classify import lexicon as lx
from dispatcher.classify.matching import _UNNAMED_GROUP, LazyHits, Table, _expand
from dispatcher.classify.normalise import normalise

CORPUS = Path(__file__).resolve().parent.parent / "data" / "classifier_corpus"


def reference_hits(rules: list[tuple[str, Any]], text: str) -> list[tuple[Any, int, int]]:
    """The straightforward way: one alternation with a named group per rule."""
    ordered = sorted(rules, key=lambda r: -len(r[0]))
    regex = re.compile(
        "|".join(f"(?P<r{i}>{_UNNAMED_GROUP.sub('(?:', p)})" for i, (p, _) in enumerate(ordered))
    )
    return [
        (ordered[int(m.lastgroup[1:])][1], m.start(), m.end())
        for m in regex.finditer(text)
        if m.lastgroup
    ]


TABLES = {
    "category": lx.CATEGORY_CUES,
    "red_flags": lx.RED_FLAGS,
    "asks": [(p, "ask") for p in lx.ASK_DIRECT],
    "lost": [(p, "lost") for p in lx.LOST],
    "subjects": [(p, "child") for p in lx.CHILD] + [(p, "elder") for p in lx.ELDER],
}
TEXTS = [
    normalise(json.loads(line)["text"])
    for name in ("train.jsonl", "dev.jsonl")
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines()
] + ["1" * 300 + "楼", "一" * 300, "头疼得厉害胸口疼得要命" * 20]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_same_hits_as_one_plain_alternation(name: str) -> None:
    rules = TABLES[name]
    table = Table(rules)
    for text in TEXTS:
        got = [(h.rule, h.start, h.end) for h in table.hits(text)]
        assert got == reference_hits(rules, text), text


def test_rule_starts_are_rewritten_only_when_safe() -> None:
    assert _expand("(?:疼|痛)得") == ["疼得", "痛得"]
    assert _expand("(?:被)?车") == ["被车", "车"]  # optional: with it first, as re tries
    assert _expand("(?<!装)修") == ["修(?<!装修)"]
    assert _expand(r"\d{1,3}岁")[:2] == [r"0\d{0,2}岁", r"1\d{0,2}岁"]
    assert _expand("(?:a|b)+c") == ["(?:a|b)+c"]  # repeated: kept
    assert _expand("(?:a|(?:b|c))d") == ["(?:a|(?:b|c))d"]  # nested: kept


def test_limit_stops_early() -> None:
    table = Table([("晕倒", "x")])
    assert len(table.hits("晕倒" * 100, limit=5)) == 5


@pytest.mark.parametrize("name", sorted(TABLES))
def test_first_live_and_lazy_reads_agree_with_all_hits(name: str) -> None:
    table = Table(TABLES[name])
    for text in TEXTS:
        hits = table.hits(text)
        assert table.first_live(text) == next((h for h in hits if not h.negated), None)
        lazy = LazyHits(table.iter_hits(text))
        middle = len(text) // 2
        assert lazy.head(2) == hits[:2]
        assert lazy.before(middle) == [h for h in hits if h.start < middle]
        assert lazy.all() == hits

"""The fast Table finds exactly what one plain alternation of its rules finds."""

from __future__ import annotations

import json
import random
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from dispatcher.classify import lexicon as lx
from dispatcher.classify.matching import _UNNAMED_GROUP, LazyHits, Scanner, Table, _anchors, _expand
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
# Past the scanner's 4,096-character chunk (its places come as they are read): negated
# hits first, the live one and a table's only word in the second chunk.
TEXTS += ["没有人晕倒,我们" * 600 + "孩子发烧了,谁能帮忙"]


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


def test_anchors_are_the_words_a_rule_starts_with_in_the_order_re_tries_them() -> None:
    assert _anchors("头(?:很|好)?(?:疼|痛)") == (
        ["头很疼", "头很痛", "头好疼", "头好痛", "头疼", "头痛"],
        True,
    )
    assert _anchors("(?:a|ab){0,2}c") == (["aac", "aabc", "ac", "abac", "ababc", "abc", "c"], True)
    assert _anchors("周[一二]") == (["周一", "周二"], True)
    # Look-arounds match no character: words past them, but a regex still decides.
    assert _anchors("有(?<!谁有)空(?:时|的话)") == (["有空时", "有空的话"], False)
    assert _anchors("地漏(?!水)") == (["地漏"], False)
    assert _anchors(r"烧到\d{1,6}") == (["烧到"], False)
    assert _anchors("买.{0,6}药") == (["买"], False)


TRICKY = [
    ("(?:a|ab){0,2}c", "r1"),
    ("头(?:很|好)?(?:疼|痛)", "r2"),
    ("有(?<!谁有)空(?:时|的话)?", "r3"),
    ("不(?<!看不)见了", "r4"),
    ("a[^,]{0,3}b", "r5"),
    (r"\d{1,3}岁", "r6"),
    ("头疼", "r7"),
    ("b", "r8"),
    ("(?:疼|痛)(?:得|到){0,2}", "r9"),  # greedy: the longest first
]


def test_tricky_rules_find_what_one_plain_alternation_finds() -> None:
    """Random texts over the rules' own characters: overlapping words, look-behinds,
    repeats, a rule that is a prefix of another."""
    table = Table(TRICKY)
    alphabet = "abc,头很好疼痛得到有谁空时的话不看见了岁19"
    rng = random.Random(15)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        got = [(h.rule, h.start, h.end) for h in table.hits(text)]
        assert got == reference_hits(TRICKY, text), text


def test_a_table_made_later_joins_the_scan_and_each_thread_keeps_its_own_texts() -> None:
    scanner = Scanner()
    first = Table([("晕倒", "a")], scanner)
    assert [h.start for h in first.hits("他晕倒了")] == [1]
    second = Table([("倒了", "b")], scanner)  # after a scan: the automaton is rebuilt
    assert [h.start for h in second.hits("他晕倒了")] == [2]
    assert [h.start for h in first.hits("他晕倒了")] == [1]
    texts = [f"{'x' * k}晕倒" for k in range(40)]
    results: list[list[int]] = [[] for _ in range(4)]

    def read(slot: int) -> None:
        for text in texts:
            results[slot] += [h.start for h in first.hits(text)]

    threads = [threading.Thread(target=read, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [list(range(40))] * 4


def test_lone_surrogates_are_read_past() -> None:
    table = Table([("晕倒", "x")])
    assert [h.start for h in table.hits("\ud800他晕倒了")] == [2]

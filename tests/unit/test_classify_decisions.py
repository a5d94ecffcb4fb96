"""Every answer on the corpus is the stored one: speed work changes no decision.

`tests/data/classifier_corpus/decisions.txt` holds, per message (each corpus message, the
messages joined to 500 characters, one of 100,000), a hash of the text and a hash of the
whole classification, reasons included. After an intended change of the rules, refresh it
with `python -m dispatcher classify decisions --write` and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

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

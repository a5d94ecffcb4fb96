"""A fingerprint of every decision the classifier makes on a set of messages.

Speed work must not change a single answer. `decision_lines` gives one line per message:
a short hash of the text, then a short hash of the whole classification (every field and
every reason), so a stored copy names exactly the messages whose answer changed.
`python -m dispatcher classify decisions --write` refreshes the stored copy after an
intended change of the rules; `tests/unit/test_classify_decisions.py` compares.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from dispatcher.classify.model import Classification

CORPUS = Path("tests/data/classifier_corpus")
STORED = CORPUS / "decisions.txt"
_JOINED_WIDTH = 500  # long messages made of consecutive corpus messages


def _short(text: str, width: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:width]


def joined(texts: list[str], width: int) -> list[str]:
    """Consecutive messages run together into chunks of up to `width` characters; the short
    remainder is dropped unless it is all there is."""
    out: list[str] = []
    current = ""
    for text in texts:
        if current and len(current) + len(text) + 1 > width:
            out.append(current)
            current = ""
        current = f"{current}，{text}" if current else text
    return out or [current]


def corpus_texts(corpus: Path = CORPUS) -> list[str]:
    """Every labelled message of the corpus (files in name order), then the same messages
    joined into ones of up to 500 characters, then one message of 100,000 characters."""
    texts: list[str] = []
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("//"):
                texts.append(json.loads(line)["text"])
    long = "，".join(texts)
    return [*texts, *joined(texts, _JOINED_WIDTH), (long * (100_000 // len(long) + 1))[:100_000]]


def decision_lines(texts: Iterable[str], classify: Callable[[str], Classification]) -> list[str]:
    return [f"{_short(text, 12)} {_short(classify(text).model_dump_json(), 16)}" for text in texts]

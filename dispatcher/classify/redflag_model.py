"""A character n-gram linear model that catches red flags the rule tables miss.

Rules name red flags by set phrases and concept + state pairs; residents keep finding new
words ("心脏那块疼得不行", "嘴唇发乌"). This model, trained on every labelled message except
the test split, scores a message's character 1–3-grams for "call 120 / 119 / 110". Under
the safety floor it may only add a red flag, never remove one. Inference is pure Python
over a small JSON file shipped in the package; `python -m dispatcher classify train-model`
rebuilds it (needs scikit-learn, which the service does not).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

MODEL_PATH: Final = Path(__file__).resolve().parent / "redflag_model.json"
NONE: Final = "none"


@dataclass(frozen=True, slots=True)
class Verdict:
    number: str  # "120" / "119" / "110"
    probability: float  # of any red flag


def ngrams(text: str, low: int = 1, high: int = 3) -> set[str]:
    return {text[i : i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)}


class RedFlagModel:
    def __init__(self, data: dict[str, Any]) -> None:
        self.classes: list[str] = data["classes"]
        self.intercept: list[float] = data["intercept"]
        self.weights: dict[str, list[float]] = data["weights"]
        self.threshold: float = data["threshold"]
        self.low, self.high = data["ngram_range"]
        self.max_chars: int = data.get("max_chars", 2000)
        self._none = self.classes.index(NONE)
        # Slices of every n-gram position up to max_chars, made once: a message's n-grams are
        # then cut by C-level `map`, not a Python loop (the model's cost is mostly here).
        self._slices = [
            [slice(i, i + n) for i in range(self.max_chars - n + 1)]
            for n in range(self.low, self.high + 1)
        ]

    def _grams(self, text: str) -> set[str]:
        grams: set[str] = set()
        for n, slices in enumerate(self._slices, start=self.low):
            grams.update(map(text.__getitem__, slices[: max(0, len(text) - n + 1)]))
        return grams

    def probabilities(self, text: str) -> list[float]:
        weights = self.weights
        rows = list(map(weights.__getitem__, filter(weights.__contains__, self._grams(text))))
        if rows:
            columns = zip(*rows, strict=True)
            scores = [b + sum(c) for b, c in zip(self.intercept, columns, strict=True)]
        else:
            scores = list(self.intercept)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    def verdict(self, text: str) -> Verdict | None:
        """The likeliest number when the message is likely a red flag, else None."""
        probs = self.probabilities(text)
        flagged = 1.0 - probs[self._none]
        if flagged < self.threshold:
            return None
        ranked = sorted(zip(probs, self.classes, strict=True), reverse=True)
        number = next(c for _, c in ranked if c != NONE)
        return Verdict(number=number, probability=round(flagged, 3))


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> RedFlagModel | None:
    """The shipped model, or None when the file is absent (the rules alone then)."""
    if not path.exists():
        return None
    return RedFlagModel(json.loads(path.read_text(encoding="utf-8")))

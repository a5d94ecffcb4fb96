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

import numpy as np
import numpy.typing as npt

MODEL_PATH: Final = Path(__file__).resolve().parent / "redflag_model.json"
NONE: Final = "none"


@dataclass(frozen=True, slots=True)
class Verdict:
    number: str  # "120" / "119" / "110"
    probability: float  # of any red flag


def ngrams(text: str, low: int = 1, high: int = 3) -> set[str]:
    return {text[i : i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)}


# An n-gram (n ≤ 3) as one number: each code point + 1 in 21 bits, so 1-, 2- and 3-grams
# fall in disjoint ranges (below 2^21, 2^42, 2^63) and one sorted array holds them all.
_BITS: Final = 21


def _codes(text: str) -> npt.NDArray[np.uint64]:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return codes + np.uint64(1)


def _keys(codes: npt.NDArray[np.uint64], low: int, high: int) -> npt.NDArray[np.uint64]:
    """Every n-gram (low ≤ n ≤ high) of a message, as numbers: each n-gram's from the
    (n-1)-gram's (two array operations per n, few calls into numpy)."""
    parts = []
    gram = codes
    for n in range(1, high + 1):
        if len(codes) - n + 1 <= 0:
            break
        if n > 1:
            gram = (gram[:-1] << np.uint64(_BITS)) | codes[n - 1 :]
        if n >= low:
            parts.append(gram)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


class RedFlagModel:
    def __init__(self, data: dict[str, Any]) -> None:
        self.classes: list[str] = data["classes"]
        self.intercept: list[float] = data["intercept"]
        self.weights: dict[str, list[float]] = data["weights"]
        self.threshold: float = data["threshold"]
        self.low, self.high = data["ngram_range"]
        assert 1 <= self.low <= self.high <= 3, "n-grams are packed into 63 bits"
        self.max_chars: int = data.get("max_chars", 2000)
        self._none = self.classes.index(NONE)
        # The vocabulary as sorted numbers, its weights as a matrix: a message's n-grams are
        # looked up with numpy (a binary search each, then one product), not a Python loop.
        by_key = sorted((int(_keys(_codes(g), len(g), len(g))[0]), g) for g in self.weights)
        self._vocabulary = np.array([k for k, _ in by_key], dtype=np.uint64)
        self._rows = np.array([self.weights[g] for _, g in by_key], dtype=np.float64)
        self._rows = self._rows.reshape(len(by_key), len(self.classes))

    def probabilities(self, text: str) -> list[float]:
        scores = np.array(self.intercept, dtype=np.float64)
        keys = _keys(_codes(text[: self.max_chars]), self.low, self.high)
        if len(keys) and len(self._vocabulary):
            # Sorted first: searchsorted then narrows each search from the last (2× faster).
            # No hash filter before it: two-thirds of a message's n-grams passed it, and its
            # 64 KB, read at random, cost more than it saved when not in the cache.
            keys = np.sort(keys)
            at = np.searchsorted(self._vocabulary, keys)
            np.minimum(at, len(self._vocabulary) - 1, out=at)
            present = np.zeros(len(self._vocabulary), dtype=bool)  # each n-gram counts once
            present[at[self._vocabulary[at] == keys]] = True
            scores += present @ self._rows
        top = float(scores.max())
        exps = [math.exp(float(s) - top) for s in scores]
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

"""`python -m dispatcher classify train-model`: rebuild the red-flag n-gram model.

Trains a multinomial logistic regression (none / 120 / 119 / 110) on character 1–3-grams
of every labelled corpus file except the test split, picks the threshold by 5-fold
cross-validation on that data alone (the highest recall of red flags whose false-alarm
rate on other messages stays within --max-false-alarms), and writes the weights as JSON.
Needs scikit-learn (`pip install scikit-learn`); the service itself does not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dispatcher.classify.normalise import normalise
from dispatcher.classify.redflag_model import MODEL_PATH, NONE

CORPUS = Path("tests/data/classifier_corpus")
TRAINING_FILES = ("train", "dev", "test_v1", "test_v2", "test_v3")  # never "test"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify train-model",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog="example: python -m dispatcher classify train-model --json",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="labelled JSONL folder")
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help="where to write the model")
    parser.add_argument("--c", type=float, default=3.0, help="inverse regularisation strength")
    parser.add_argument(
        "--max-false-alarms",
        type=float,
        default=0.035,
        help="highest cross-validated false-alarm rate allowed when picking the threshold",
    )
    parser.add_argument("--json", action="store_true", help="print the training report as JSON")
    return parser


def _label(case: dict[str, Any]) -> str:
    if not case.get("red_flag"):
        return NONE
    return str(case["expect"].get("emergency_number") or "120")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict
    except ImportError:
        print("train-model needs scikit-learn: pip install scikit-learn", flush=True)
        return 2
    cases = [
        json.loads(line)
        for name in TRAINING_FILES
        for line in (args.corpus / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [normalise(c["text"]) for c in cases]
    labels = [_label(c) for c in cases]
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(1, 3), binary=True, min_df=2)
    features = vectorizer.fit_transform(texts)
    model = LogisticRegression(max_iter=5000, C=args.c, class_weight="balanced")
    folds = cross_val_predict(model, features, labels, cv=5, method="predict_proba")
    model.fit(features, labels)
    classes = [str(c) for c in model.classes_]
    flagged = 1.0 - folds[:, classes.index(NONE)]
    is_red = np.array([label != NONE for label in labels])
    threshold, recall, false_alarms = 0.9, 0.0, 0.0
    for candidate in np.arange(0.3, 0.91, 0.05):
        fa = float(((flagged >= candidate) & ~is_red).sum() / max(1, (~is_red).sum()))
        rec = float(((flagged >= candidate) & is_red).sum() / max(1, is_red.sum()))
        if fa <= args.max_false_alarms and rec > recall:
            threshold, recall, false_alarms = float(candidate), rec, fa
    weights = {
        gram: [round(float(model.coef_[k, j]), 4) for k in range(len(classes))]
        for gram, j in vectorizer.vocabulary_.items()
        if max(abs(float(model.coef_[k, j])) for k in range(len(classes))) >= 0.01
    }
    data = {
        "classes": classes,
        "intercept": [round(float(b), 4) for b in model.intercept_],
        "weights": weights,
        "threshold": round(threshold, 2),
        "ngram_range": [1, 3],
        "max_chars": 2000,
        "trained_on": list(TRAINING_FILES),
        "messages": len(cases),
        "red_flags": int(is_red.sum()),
        "cv_recall": round(recall, 4),
        "cv_false_alarms": round(false_alarms, 4),
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
    report = {k: v for k, v in data.items() if k not in {"weights", "intercept"}}
    report["features"] = len(weights)
    print(json.dumps(report, ensure_ascii=False, indent=2 if args.json else None))
    return 0

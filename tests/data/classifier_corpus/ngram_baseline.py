"""Does a statistical layer earn its place? Character n-gram linear models vs the rules.

Trains on train.jsonl only and compares with the rules on dev.jsonl (never test.jsonl),
per field: is_request, category, urgency (exact and within one level). Needs scikit-learn,
which the project does not depend on (`pip install scikit-learn`):

    python tests/data/classifier_corpus/ngram_baseline.py [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dispatcher.classify import classify
from dispatcher.classify.evaluate import field_ok, within_one
from dispatcher.classify.normalise import normalise
from schemas.vocab import Urgency

HERE = Path(__file__).resolve().parent


def load(name: str) -> list[dict[str, Any]]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def model() -> Any:
    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced"),
    )


def first(label: str) -> str:
    return label.split(" or ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    train, dev = load("train.jsonl"), load("dev.jsonl")
    norm = [normalise(c["text"]) for c in train]
    results: dict[str, dict[str, float]] = {}

    is_req = model().fit(norm, [c["expect"]["is_request"] for c in train])
    reqs = [(n, c) for n, c in zip(norm, train, strict=True) if c["expect"]["is_request"]]
    cat = model().fit(
        [n for n, c in reqs if "category" in c["expect"]],
        [first(c["expect"]["category"]) for n, c in reqs if "category" in c["expect"]],
    )
    urg = model().fit([n for n, _ in reqs], [first(c["expect"]["urgency"]) for _, c in reqs])

    hits: dict[str, list[int]] = {k: [0, 0, 0] for k in ("is_request", "category", "urgency")}
    near = [0, 0]  # within one level: model, rules
    for case in dev:
        expect, text = case["expect"], normalise(case["text"])
        rules = classify(case["text"])
        hits["is_request"][0] += bool(is_req.predict([text])[0]) == expect["is_request"]
        hits["is_request"][1] += rules.is_request == expect["is_request"]
        hits["is_request"][2] += 1
        if not expect["is_request"]:
            continue
        if "category" in expect:
            predicted = cat.predict([text])[0]
            hits["category"][0] += predicted in expect["category"].split(" or ")
            hits["category"][1] += field_ok("category", expect["category"], rules)
            hits["category"][2] += 1
        predicted_u = urg.predict([text])[0]
        hits["urgency"][0] += predicted_u in expect["urgency"].split(" or ")
        hits["urgency"][1] += field_ok("urgency", expect["urgency"], rules)
        hits["urgency"][2] += 1
        near[0] += within_one(expect["urgency"], Urgency(predicted_u))
        near[1] += within_one(expect["urgency"], rules.urgency)
    for field, (m, r, n) in hits.items():
        results[field] = {"model": round(m / n, 4), "rules": round(r / n, 4), "n": n}
    n_u = hits["urgency"][2]
    results["urgency_within_one"] = {
        "model": round(near[0] / n_u, 4),
        "rules": round(near[1] / n_u, 4),
        "n": n_u,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for field, r in results.items():
            print(f"{field:<20} model {r['model']:.1%}  rules {r['rules']:.1%}  (n={r['n']})")


if __name__ == "__main__":
    main()

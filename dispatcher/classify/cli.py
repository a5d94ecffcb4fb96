"""`python -m dispatcher classify "TEXT"`: print the classification as one JSON object.

`python -m dispatcher classify eval FILE [--json]`: score the classifier on a labelled
JSONL file (see `dispatcher.classify.evaluate` for the format).

`python -m dispatcher classify decisions [--write]`: fingerprint every answer on the corpus.
`python -m dispatcher classify build-hanzi`: rebuild which characters OpenCC would change.
Timing per message is `python -m dispatcher bench classify [--compare REV]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

from dispatcher.classify import classify
from dispatcher.classify.decisions import STORED, corpus_texts, decision_lines
from dispatcher.classify.evaluate import evaluate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify",
        description="Decide whether a Chinese chat message is a help request, and what kind.",
        epilog='example: python -m dispatcher classify "我爸晕倒了，叫不醒！" (`-` reads stdin); '
        "`python -m dispatcher classify eval --help` scores a labelled file; `classify "
        "decisions` fingerprints every corpus answer; `classify build-hanzi` rebuilds the "
        "OpenCC character sets; `train-model` the red-flag model; timing: `bench classify`",
    )
    parser.add_argument("text", help="the message; `-` reads it from standard input")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    return parser


def _eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify eval",
        description="Score the classifier on labelled messages: per-field accuracy, "
        "is_request precision/recall, urgency within one level, safety recall, confusion "
        "tables and the messages that failed.",
        epilog="example: python -m dispatcher classify eval "
        "tests/data/classifier_corpus/dev.jsonl --json",
    )
    parser.add_argument(
        "file", type=Path, help='JSONL, one {"text", "expect", "red_flag"} object a line'
    )
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument(
        "--failures", type=int, default=20, help="failed examples to list in text mode"
    )
    parser.add_argument(
        "--rules-only", action="store_true", help="leave out the red-flag model (the tables alone)"
    )
    return parser


def load_cases(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("//")]


def _print_text(report: dict[str, Any], failures: int) -> None:
    print(f"messages: {report['messages']}")
    for field, (ok, n) in report["counts"].items():
        print(f"  {field:<22} {ok:>4}/{n:<4} {ok / n:7.1%}")
    pr = report["is_request"]
    print(f"  is_request precision {pr['precision']}  recall {pr['recall']}")
    print(f"  urgency within one level {report['urgency_within_one']}")
    print(f"  safety recall {report['safety_recall']} ({report['red_flag_messages']} red flags)")
    print(f"  false alarms {report['false_alarms']} (rate {report['false_alarm_rate']})")
    print("category confusion (expected → got: count):")
    for want, got in report["confusion"]["category"].items():
        print(f"  {want:<32} {got}")
    print("urgency confusion:")
    for want, got in report["confusion"]["urgency"].items():
        print(f"  {want:<32} {got}")
    shown = report["failures"][:failures]
    print(f"failures: {len(report['failures'])} (showing {len(shown)})")
    for failure in shown:
        print(f"  {failure['fields']} {failure['text']}")
        print(f"    want {failure['expect']}")
        print(f"    got  {failure['got']} | {failure['reasons']}")


def eval_main(argv: list[str]) -> int:
    args = _eval_parser().parse_args(argv)
    try:
        cases = load_cases(args.file)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    report = evaluate(cases, partial(classify, use_model=not args.rules_only))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_text(report, args.failures)
    return 0


def decisions_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify decisions",
        description="Fingerprint every answer on the corpus (each message, the messages "
        "joined to 500 characters, one of 100,000): one line per message, text hash then "
        "answer hash. Prints a digest of all lines; --write stores them for the unit test.",
    )
    parser.add_argument("--write", action="store_true", help=f"store the lines in {STORED}")
    args = parser.parse_args(argv)
    lines = decision_lines(corpus_texts(), classify)
    if args.write:
        STORED.write_text("\n".join(lines) + "\n", encoding="utf-8")
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    print(json.dumps({"messages": len(lines), "digest": digest}))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["eval"] and len(argv) > 1:
        return eval_main(argv[1:])
    if argv[:1] == ["decisions"]:
        return decisions_main(argv[1:])
    if argv[:1] == ["build-hanzi"]:
        from dispatcher.classify.build_hanzi import main as build_main

        return build_main(argv[1:])
    if argv[:1] == ["train-model"]:
        from dispatcher.classify.train_model import main as train_main

        return train_main(argv[1:])
    args = _parser().parse_args(argv)
    text: str = sys.stdin.read() if args.text == "-" else args.text
    result = classify(text).model_dump(mode="json")
    print(json.dumps(result, ensure_ascii=False, indent=args.indent))
    return 0

"""`python -m dispatcher classify "TEXT"`: print the classification as one JSON object."""

from __future__ import annotations

import argparse
import json
import sys

from dispatcher.classify import classify


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify",
        description="Decide whether a Chinese chat message is a help request, and what kind.",
        epilog='example: python -m dispatcher classify "我爸晕倒了，叫不醒！" (`-` reads stdin)',
    )
    parser.add_argument("text", help="the message; `-` reads it from standard input")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    text: str = sys.stdin.read() if args.text == "-" else args.text
    result = classify(text).model_dump(mode="json")
    print(json.dumps(result, ensure_ascii=False, indent=args.indent))
    return 0

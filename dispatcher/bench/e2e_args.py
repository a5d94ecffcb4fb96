"""`bench e2e` command-line options (kept apart: `--help` imports nothing heavy)."""

from __future__ import annotations

import argparse
import re


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="a ~1-minute run (smaller city)")
    parser.add_argument("--communities", type=int, help="communities (default 6; quick 2)")
    parser.add_argument(
        "--helpers-per-community", type=int, help="helpers per community (default 200; quick 100)"
    )
    parser.add_argument("--seed", type=int, help="city and request generator seed (default 7)")
    parser.add_argument(
        "--rates", type=rates_arg, help="offered rates, req/s (default 50,200,500; quick 20,100)"
    )
    parser.add_argument("--duration", type=float, help="seconds per fixed rate (default 10)")
    parser.add_argument("--probe-duration", type=float, help="seconds per ceiling probe (5)")
    parser.add_argument("--probes", type=int, help="probes per ceiling search (5; quick 1)")
    parser.add_argument("--partitions", type=int, help="topic partitions (default 8)")
    parser.add_argument(
        "--partition-table",
        choices=("spread", "hash"),
        help="community → partition: an explicit even table (default) or murmur2 hashing",
    )
    parser.add_argument(
        "--push-batch",
        type=int,
        help="deliveries per webhook POST at most (default 32; 1: one POST per delivery)",
    )
    parser.add_argument("--plan-time-scale", type=float, help="escalation time scale (default 0.1)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling searches")
    parser.add_argument("--one-worker", action="store_true", help="skip the two-worker search")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample worker-1 and the API with py-spy during each fixed rate, the thread "
        "holding the GIL only (collapsed stacks into DIR; needs py-spy in the venv)",
    )
    parser.add_argument(
        "--pg-statements",
        type=int,
        metavar="N",
        help="per fixed rate, PostgreSQL's N costliest statements per request (default 10; "
        "0: off; needs the stack started with DISPATCH_PG_STAT_STATEMENTS=1)",
    )
    parser.add_argument(
        "--loop-census",
        type=float,
        metavar="MS",
        help="the workers count their asyncio callbacks that ran at least MS ms, by task; "
        "each fixed rate reports the longest-held (streams/loop_census.py; costs a clock "
        "read per callback, so CPU figures include it)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the subprocess logs")
    parser.add_argument(
        "--compare",
        metavar="REV",
        help="run the same scenarios with git revision REV's worker and API beside this "
        "checkout's, whole runs alternating (JSON: each run's figures and the medians)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --compare: runs of each tree (default 2)"
    )
    parser.add_argument(
        "--base-env",
        type=env_arg,
        action="append",
        metavar="DISPATCH_NAME=VALUE",
        help="with --compare: the base's worker and API run with this setting (repeatable); "
        "--compare HEAD --base-env DISPATCH_NOTIFY_EARLY=false compares a setting on one tree",
    )


def env_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"DISPATCH_[A-Z0-9_]+", name):
        raise argparse.ArgumentTypeError(f"not DISPATCH_NAME=VALUE: {text!r}")
    return name, value


def rates_arg(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return sorted(rates)

"""`python -m dispatcher bench SUBCOMMAND`: benchmarks that print numbers (never assert)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def positive_ints(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from exc
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("every value must be a positive integer")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dispatcher bench")
    sub = parser.add_subparsers(dest="bench", required=True)
    match = sub.add_parser(
        "match",
        help="one matching decision: index vs. a scan of all helpers",
        description="Time one matching decision (decide() on a critical request) on "
        "synthetic communities of each size, beside a scan-and-sort of all helpers.",
    )
    match.add_argument(
        "--helpers",
        type=positive_ints,
        default=[1000, 100_000, 1_000_000],
        help="comma-separated community sizes (default: 1000,100000,1000000)",
    )
    match.add_argument("--decisions", type=int, default=300, help="timed decisions per size")
    match.add_argument("--naive-runs", type=int, default=5, help="timed scans per size")
    match.add_argument("--seed", type=int, default=7, help="community generator seed")
    match.add_argument("--json", action="store_true", help="one JSON object per line")
    match.add_argument(
        "--compare",
        metavar="REV",
        help="also run the core of git revision REV (e.g. main) turn by turn in the same "
        "run, and check both decide identically",
    )
    e2e = sub.add_parser(
        "e2e",
        help="end-to-end latency and throughput on the real local Kafka and PostgreSQL",
        description="Intake → first offer, intake → phone, deadline lateness and the "
        "throughput ceiling (one and two workers), beside a raw Kafka round-trip floor, in an "
        "isolated namespace (own topics, app id, database; all cleaned up). Progress on stderr.",
    )
    from dispatcher.bench.e2e_args import add_arguments

    add_arguments(e2e)
    intake = sub.add_parser(
        "intake",
        help="the API's answer time (POST → 202) and CPU per request; --compare REV beside",
        description="Open-loop bot requests to the API alone (no worker) on the real local "
        "Kafka and PostgreSQL; with --compare REV, REV's API runs beside the current one and "
        "the requests alternate. Progress on stderr.",
    )
    from dispatcher.bench.intake import add_arguments as add_intake_arguments

    add_intake_arguments(intake)
    record = sub.add_parser(
        "record",
        help="the record agent's PostgreSQL writes: per event vs set-based, same events",
    )
    from dispatcher.bench.record import add_arguments as add_record_arguments

    add_record_arguments(record)
    platforms = sub.add_parser(
        "platforms",
        help="WeCom/DingTalk/Feishu callback → the group's first reply (p50/p99)",
        description="Signed platform callbacks through the real API and worker (isolated "
        "namespace, cleaned up); a local receiver plays the groups. Progress on stderr.",
    )
    from dispatcher.bench.platforms import add_arguments as add_platform_arguments

    add_platform_arguments(platforms)
    classify = sub.add_parser(
        "classify",
        help="the chat classifier: CPU and wall time per message by length; --compare REV",
        description="Time `classify` on every corpus message, on them joined to 500 "
        "characters and on one of 100,000, by length bucket (thread CPU and wall p50/p99/max); "
        "with --compare REV, REV's classifier beside this one, turn by turn.",
    )
    classify.add_argument("--compare", metavar="REV", help="git revision to run beside")
    classify.add_argument("--rounds", type=int, default=5, help="rounds (trees alternate)")
    classify.add_argument("--repeat", type=int, default=3, help="passes over the messages a round")
    classify.add_argument(
        "--limit", type=int, default=0, help="at most this many messages a bucket (0: all)"
    )
    classify.add_argument("--json", action="store_true", help="print the report as JSON")
    classify.add_argument(
        "--stages",
        action="store_true",
        help="also time classify's steps (normalise, red flags with the scan, rules, floor)",
    )
    notify = sub.add_parser(
        "notify",
        help="the notify agent: CPU per delivered offer; --compare REV beside, same pushes",
        description="Offer waves from the real core through the real notify agent to a local "
        "receiver, at --rate waves per second; with --compare REV, REV's agent beside this "
        "one (pushes compared byte for byte first), turn by turn. Progress on stderr.",
    )
    from dispatcher.bench.notify import add_arguments as add_notify_arguments

    add_notify_arguments(notify)
    idle = sub.add_parser(
        "idle",
        help="an idle worker's CPU per second, for each consumer fetch wait",
        description="A worker on a fresh namespace with nothing to do, its CPU read from /proc, "
        "for each DISPATCH_CONSUMER_FETCH_MAX_WAIT_MS in turn. Progress on stderr.",
    )
    from dispatcher.bench.idle import add_arguments as add_idle_arguments

    add_idle_arguments(idle)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.bench == "record":
        from dispatcher.bench.record import main as record_main

        return record_main(args)
    if args.bench == "intake":
        from dispatcher.bench.intake import main as intake_main

        return intake_main(args)
    if args.bench == "platforms":
        from dispatcher.bench.platforms import main as platforms_main

        return platforms_main(args)
    if args.bench == "classify":
        from dispatcher.bench.classify import main as classify_main

        return classify_main(
            args.compare, args.rounds, args.repeat, args.limit, args.json, args.stages
        )
    if args.bench == "notify":
        from dispatcher.bench.notify import main as notify_main

        return notify_main(args)
    if args.bench == "idle":
        from dispatcher.bench.idle import main as idle_main

        return idle_main(args)
    if args.bench == "e2e":
        from dispatcher.bench.e2e import main as e2e_main  # lazy: aiokafka, httpx, asyncpg

        return e2e_main(args)
    if args.bench != "match":
        print(f"bench {args.bench}: not yet implemented", file=sys.stderr)
        return 2
    if args.compare:
        return _compare(args)
    from dispatcher.bench import goals
    from dispatcher.bench.match import run_size  # lazy: keeps --help instant

    # What of this run is not the default the goal is about (timed decisions, their data).
    changes = [
        f"{name}={getattr(args, name)}"
        for name, default in (("decisions", 300), ("seed", 7))
        if getattr(args, name) != default
    ]
    for n in args.helpers:
        result = run_size(n, args.decisions, max(1, args.naive_runs), args.seed)
        goal = goals.match(result, changes)
        if goal is not None:
            result["goal_p99_us"] = goal
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        print(
            f"{n:>10,} helpers  {_line(result)}  (machine: Python workload "
            f"{result['machine_python_ms']} ms)",
            flush=True,
        )
        if goal is not None:
            shown = {"p99_us": goal, "not_judged": goal.get("not_judged")}
            print(f"{'':>10}          {goals.line(shown)}", flush=True)
    return 0


def _line(r: dict[str, Any]) -> str:
    return (
        f"p50 {r['p50_us']:>8.1f} µs  p99 {r['p99_us']:>8.1f} µs"
        f"  (CPU p99 {r['cpu_p99_us']:>8.1f})  search p50 {r['search_p50_us']:>6.1f} µs"
        f"  scan p50 {r['naive_p50_us']:>12.1f} µs"
    )


def _compare(args: argparse.Namespace) -> int:
    from dispatcher.bench.match_compare import compare

    for row in compare(
        args.compare, args.helpers, args.decisions, max(1, args.naive_runs), args.seed
    ):
        if args.json:
            print(json.dumps(row), flush=True)
            continue
        n = row["helpers"]
        same = "identical decisions" if row["same_decisions"] else "DECISIONS DIFFER"
        print(f"{n:>10,} helpers  {row['baseline_rev'][:9]}  {_line(row['baseline'])}")
        print(f"{'':>10}          current    {_line(row['current'])}")
        print(
            f"{'':>10}          ×{row['p50_speedup']} p50, ×{row['p99_speedup']} p99; {same}"
            f" (machine: Python workload {row['machine_python_ms']} ms)",
            flush=True,
        )
    return 0

"""`python -m dispatcher simulate`: what if we had used this plan? Runs the real core in
simulated time over the demo district (or a behaviour fitted from the recorded history)
with several policies on the same requests and answer draws; prints a table (or JSON)
and writes an HTML report with charts."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from dispatcher.simulate.behaviour import Behaviour, load_behaviour
from dispatcher.simulate.metrics import check_word
from dispatcher.simulate.policies import Plans, resolve_policies
from dispatcher.simulate.scenario import Scenario
from dispatcher.simulate.world import local_midnight

# Columns of the printed table: (heading, key in a policy's metrics).
TABLE = (
    ("crit<=2min", "critical_accepted_within_2min"),
    ("crit p50 s", ("time_to_accept_s", "critical", "p50")),
    ("crit p90 s", ("time_to_accept_s", "critical", "p90")),
    ("urg p50 s", ("time_to_accept_s", "urgent", "p50")),
    ("never", "never_answered_share"),
    ("to staff", "escalated_to_staff_share"),
    ("notif/ans", "notifications_per_answered"),
    ("offers/wk", "offers_per_helper_week_mean"),
    ("max/wk", "max_offers_per_helper_week"),
    ("gini", "offers_gini"),
    ("night", "helpers_bothered_at_night"),
    ("multi fill", "multi_helper_filled_slots_share"),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dispatcher simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--district", default="demo", choices=["demo"], help="roster to simulate")
    p.add_argument("--days", type=int, default=90, help="simulated days (default 90)")
    p.add_argument(
        "--policies",
        default="plans,broadcast,nearest",
        help="comma-separated: plans, broadcast, nearest, or a plan file FILE.json",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=min(3, os.cpu_count() or 1),
        help="policies simulated in parallel processes (same result for any value)",
    )
    p.add_argument("--seed", type=int, default=1, help="same seed, same JSON (default 1)")
    p.add_argument("--start", default="2026-09-01", help="first simulated local day")
    p.add_argument("--behaviour", type=Path, help="JSON file overriding behaviour model fields")
    p.add_argument("--requests-per-day", type=float, help="override the district's rate")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--out", type=Path, default=Path("reports"), help="report directory")
    p.add_argument("--no-report", action="store_true", help="skip the HTML/PNG report")
    p.add_argument(
        "--from-db",
        action="store_true",
        help="fit helpers' answer rates and delays from PostgreSQL (DISPATCH_PG_DSN)",
    )
    p.add_argument("--community", help="with --from-db: the community whose history to fit")
    p.add_argument("--since", help="with --from-db: history from this date (YYYY-MM-DD)")
    p.add_argument(
        "--min-offers",
        type=int,
        default=5,
        help="with --from-db: fit only helpers with at least this many offers (default 5)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        behaviour, policies, start = _inputs(args)
        if not args.no_report:
            _check_out(args.out)
    except (ValueError, OSError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    if args.from_db:  # after every other check: reading the history may take a while
        from dispatcher.record.connect import PG_FAILURES, pg_failure
        from dispatcher.simulate.history import fit_from_db

        try:
            behaviour = fit_from_db(
                behaviour, community=args.community, since=args.since, min_offers=args.min_offers
            )
        except PG_FAILURES as exc:
            return pg_failure("simulate", exc)
        except ValueError as exc:  # nobody with enough history
            print(f"simulate: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    scenario = Scenario.demo(behaviour=behaviour, seed=args.seed, start=start, days=args.days)
    if args.from_db:
        roster = {h.helper_id for h in scenario.helpers}
        print(
            f"fitted {len(behaviour.fitted)} helpers from PostgreSQL,"
            f" {len(roster & set(behaviour.fitted))} of them in the simulated roster",
            file=sys.stderr,
        )
    result, runs = scenario.compare(policies, jobs=args.jobs)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(render_table(result))
    log = sys.stderr if args.json else sys.stdout
    cpu = sum(os.times()[:4])  # this process and its (reaped) policy workers
    print(
        f"simulated {args.days} days x {len(policies)} policies, {result['requests']} requests,"
        f" {sum(r.commands for r in runs.values())} core decisions in {elapsed:.1f} s"
        f" (CPU {cpu:.1f} s, {args.jobs} jobs, load average {os.getloadavg()[0]:.1f})",
        file=log,
    )
    if not args.no_report:
        from dispatcher.simulate.report import write_report

        try:
            path = write_report(args.out, result, runs, table=render_table(result))
        except OSError as exc:
            print(f"simulate: --out {args.out}: cannot write the report: {exc}", file=sys.stderr)
            return 2
        print(f"report: {path}", file=log)
    return 0


def _inputs(args: argparse.Namespace) -> tuple[Behaviour, dict[str, Plans], datetime]:
    """The run's behaviour model, policies and first local midnight, or a ValueError
    naming the bad input (checked before the run, which may take minutes)."""
    if args.days < 1:
        raise ValueError("--days must be at least 1")
    start = _day("--start", args.start)
    behaviour = load_behaviour(args.behaviour)
    rate = args.requests_per_day
    if rate is not None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"--requests-per-day must be above 0, not {rate}")
        behaviour = behaviour.with_overrides({"requests_per_day": rate})
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    policies = resolve_policies(names)
    if args.from_db:  # fitted by `main` once everything else is checked
        from dispatcher.simulate.history import since_instant

        if not args.community or not args.since:
            raise ValueError("--from-db needs --community and --since")
        _day("--since", args.since, since_instant)
    return behaviour, policies, start


def _day(flag: str, text: str, parse: Callable[[str], datetime] = local_midnight) -> datetime:
    """The instant `parse` reads (by default that local day's midnight, in UTC), or a
    ValueError naming the flag."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{flag} {text!r}: not a date (YYYY-MM-DD): {exc}") from None


def _check_out(out: Path) -> None:
    """The report directory can be made (so a long run does not end on a bad --out)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot make the report directory: {exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: the report directory is not writable")


def _cell(metrics: dict[str, Any], key: str | tuple[str, ...]) -> str:
    value: Any = metrics
    for part in (key,) if isinstance(key, str) else key:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def render_table(result: dict[str, Any]) -> str:
    names = list(result["policies"])
    width = max(12, *(len(n) + 2 for n in names))
    lines = [
        f"{result['days']} days, {result['requests']} requests "
        f"({', '.join(f'{k} {v}' for k, v in result['requests_by_urgency'].items())}), "
        f"{result['helpers']} helpers, seed {result['seed']}",
        "metric".ljust(14) + "".join(n.rjust(width) for n in names),
    ]
    for heading, key in TABLE:
        cells = [_cell(result["policies"][n], key) for n in names]
        lines.append(heading.ljust(14) + "".join(c.rjust(width) for c in cells))
    goal = result.get("goal")
    if goal:
        checks = ", ".join(f"{k} {check_word(v)}" for k, v in goal["checks"].items())
        lines.append(f"goal for {goal['policy']}: {'met' if goal['met'] else 'missed'} ({checks})")
    return "\n".join(lines)

"""`python -m dispatcher report`: a community's month, per day, with volunteer service hours."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from dispatcher.ops.reports import (
    UnknownCommunityError,
    days_csv,
    helpers_csv,
    month_report,
    parse_month,
    render_text,
)
from dispatcher.record.connect import CONFIG_EXIT, PG_FAILURES, connect, pg_failure
from dispatcher.settings import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher report",
        description=(
            "Per community per day and per month: requests, answered rate, median and p90 "
            "time to first accept, escalations, whistles, expiries; and volunteer service "
            "hours per helper. Read from PostgreSQL (DISPATCH_PG_DSN). Days are UTC+8."
        ),
    )
    parser.add_argument("--community", required=True, help="community id, e.g. siming-zhonghua")
    parser.add_argument("--month", required=True, help="month, e.g. 2026-11")
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--csv",
        action="store_true",
        help="CSV (UTF-8 with a byte order mark, for Excel): one row per day, then the month",
    )
    out.add_argument("--json", action="store_true", help="the whole report as JSON")
    parser.add_argument(
        "--helpers", action="store_true", help="with --csv: service hours per helper instead"
    )
    return parser


async def _run(args: argparse.Namespace) -> str:
    dsn = get_settings().pg_dsn.get_secret_value()
    conn = await connect(dsn)
    try:
        report = await month_report(conn, args.community, args.month)
    finally:
        await conn.close()
    if args.json:
        return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
    if args.csv:
        return helpers_csv(report) if args.helpers else days_csv(report)
    return render_text(report)


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.helpers and not args.csv:  # the text and JSON reports list the helpers already
        parser.error("--helpers needs --csv")
    try:
        parse_month(args.month)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        text = asyncio.run(_run(args))
    except UnknownCommunityError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return CONFIG_EXIT
    except PG_FAILURES as exc:
        return pg_failure("report", exc)
    _write(text if text.endswith("\n") else text + "\n", as_bytes=args.csv)
    return 0


def _write(text: str, *, as_bytes: bool) -> None:
    if not as_bytes:
        sys.stdout.write(text)
        return
    # A CSV is for a file Excel opens: UTF-8 with its byte order mark, whatever the locale.
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


if __name__ == "__main__":  # also runnable before `report` is in dispatcher.__main__
    sys.exit(main(sys.argv[1:]))

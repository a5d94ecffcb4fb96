"""Staff commands for the helpers' own messages, through the one write path (Kafka):

    python -m dispatcher welcome --community X      # everyone not yet welcomed
    python -m dispatcher summary --month 2026-11 [--community X] [--everyone]

Each helper gets one command (`WelcomeHelper` / `SendHelperSummary`); the worker records
it on the helper and the notify agent pushes the message to the helper's private channel,
retried like every push. Re-running is safe: who was welcomed (or summarised for that
month) is skipped here, and the core ignores a repeat anyway. Progress goes to stderr, the
result (JSON) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

import asyncpg

from dispatcher.api.producer import KafkaCommandSink
from dispatcher.api.roster_import import send_commands
from dispatcher.clock import utcnow
from dispatcher.ops.reports import parse_month
from dispatcher.record.read import helper_messages as read
from dispatcher.record.read.reports import service_hours
from dispatcher.settings import Settings, get_settings
from schemas.commands import CommandBody
from schemas.helper_messages import SendHelperSummary, WelcomeHelper

POLL_S = 0.5


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def queue_and_wait(
    settings: Settings,
    community_id: str,
    bodies: Sequence[CommandBody],
    recorded: Callable[[], Awaitable[int]],
    *,
    what: str,
    wait_s: float,
) -> int:
    """Queue `bodies`, then report how many the worker has recorded, until all or `wait_s`."""
    sink = KafkaCommandSink(settings)
    try:
        total = len(bodies)
        await send_commands(
            settings,
            sink,
            community_id,
            bodies,
            utcnow(),
            progress=lambda n: say(f"{what}: {n}/{total} queued"),
        )
    finally:
        await sink.stop()
    done, shown = 0, -1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        done = await recorded()
        if done != shown:
            say(f"{what}: {done}/{len(bodies)} recorded")
            shown = done
        if done >= len(bodies) or loop.time() >= deadline:
            return done
        await asyncio.sleep(POLL_S)


async def welcome(settings: Settings, community_id: str, wait_s: float) -> dict[str, object]:
    conn = await asyncpg.connect(settings.pg_dsn.get_secret_value(), timeout=10)
    try:
        todo = await read.not_welcomed(conn, community_id)
        say(f"welcome: {len(todo)} helper(s) in {community_id} not yet welcomed")
        done = 0
        if todo:
            done = await queue_and_wait(
                settings,
                community_id,
                [WelcomeHelper(helper_id=h) for h in todo],
                lambda: read.welcomed_among(conn, community_id, todo),
                what="welcome",
                wait_s=wait_s,
            )
    finally:
        await conn.close()
    return {"community_id": community_id, "to_welcome": len(todo), "welcomed": done}


async def summary(
    settings: Settings, community_id: str, month: str, everyone: bool, wait_s: float
) -> dict[str, object]:
    first: date = parse_month(month)
    conn = await asyncpg.connect(settings.pg_dsn.get_secret_value(), timeout=10)
    try:
        # Service minutes as the month report counts them (assignments marked done).
        rows = {r["helper_id"]: r for r in await service_hours(conn, community_id, first)}
        helpers = set(rows)
        if everyone:
            helpers |= set(await read.all_active(conn, community_id))
        already = await read.summarised(conn, community_id, month)
        bodies: list[SendHelperSummary] = []
        for hid in sorted(helpers - already):
            row = rows.get(hid)
            bodies.append(
                SendHelperSummary(
                    helper_id=hid,
                    month=month,
                    requests_helped=int(row["assignments"]) if row else 0,
                    minutes=round(float(row["service_hours"]) * 60) if row else 0,
                )
            )
        say(f"summary {month}: {len(bodies)} helper(s) to send, {len(already)} sent before")
        done = 0
        if bodies:
            wanted = {b.helper_id for b in bodies}

            async def recorded() -> int:
                return len(wanted & await read.summarised(conn, community_id, month))

            done = await queue_and_wait(
                settings, community_id, bodies, recorded, what="summary", wait_s=wait_s
            )
    finally:
        await conn.close()
    return {"community_id": community_id, "month": month, "to_send": len(bodies), "sent": done}


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m dispatcher {prog}", description=description)
    parser.add_argument("--community", required=True, help="community id")
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the worker (default 60)"
    )
    return parser


def _finish(result: dict[str, object], queued: str, recorded: str) -> int:
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result[recorded] == result[queued] else 1


def welcome_main(argv: list[str]) -> int:
    args = _parser("welcome", "Send the welcome to every helper not yet welcomed.").parse_args(argv)
    result = asyncio.run(welcome(get_settings(), args.community, args.wait))
    return _finish(result, "to_welcome", "welcomed")


def summary_main(argv: list[str]) -> int:
    parser = _parser("summary", "Send each helper their month: requests helped and minutes.")
    parser.add_argument("--month", required=True, help="local calendar month, e.g. 2026-11")
    parser.add_argument(
        "--everyone", action="store_true", help="also helpers who helped nobody that month"
    )
    args = parser.parse_args(argv)
    try:
        parse_month(args.month)
    except ValueError as exc:
        parser.error(str(exc))
    result = asyncio.run(
        summary(get_settings(), args.community, args.month, args.everyone, args.wait)
    )
    return _finish(result, "to_send", "sent")

"""Staff commands for the helpers' own messages, through the one write path (Kafka):

    python -m dispatcher welcome --community X      # everyone not yet welcomed
    python -m dispatcher summary --month 2026-11 [--community X] [--everyone]

Each helper gets one command (`WelcomeHelper` / `SendHelperSummary`); the worker records
it on the helper and the notify agent pushes the message to the helper's private channel,
retried like every push. Re-running is safe: who was welcomed (or summarised for that
month) is skipped here, and the core ignores a repeat anyway. Progress goes to stderr, the
result (JSON) to stdout.

A welcome counts only once the notify agent reports it reached the helper's private
channel. Helpers it could not reach (no private channel: no endpoint of their own, only a
group robot) are listed by id, never by phone, so staff can reach them another way; they
stay "not welcomed", and a later run welcomes them once they have a channel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from dispatcher.api.producer import KafkaCommandSink
from dispatcher.api.roster_import import send_commands
from dispatcher.clock import utcnow
from dispatcher.ops.reports import parse_month
from dispatcher.record.connect import connect
from dispatcher.record.read import helper_messages as read
from dispatcher.record.read.reports import service_hours
from dispatcher.settings import Settings, get_settings
from schemas.commands import CommandBody
from schemas.helper_messages import NO_PRIVATE_CHANNEL as NO_CHANNEL
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
    conn = await connect(settings.pg_dsn.get_secret_value())
    outcomes: dict[str, tuple[bool, str]] = {}
    try:
        todo = await read.not_welcomed(conn, community_id)
        say(f"welcome: {len(todo)} helper(s) in {community_id} not yet welcomed")
        if todo:
            since = await read.last_seq(conn)

            async def answered() -> int:
                outcomes.update(await read.welcome_outcomes(conn, community_id, todo, since))
                return len(outcomes)

            await queue_and_wait(
                settings,
                community_id,
                [WelcomeHelper(helper_id=h) for h in todo],
                answered,
                what="welcome",
                wait_s=wait_s,
            )
    finally:
        await conn.close()
    return welcome_result(community_id, todo, outcomes)


def welcome_result(
    community_id: str, todo: Sequence[str], outcomes: dict[str, tuple[bool, str]]
) -> dict[str, object]:
    """The run's answer: welcomed, not reachable privately (ids only), failed, unanswered."""
    unreachable = sorted(h for h, (sent, why) in outcomes.items() if not sent and why == NO_CHANNEL)
    failed = sorted(h for h, (sent, why) in outcomes.items() if not sent and why != NO_CHANNEL)
    result: dict[str, object] = {
        "community_id": community_id,
        "to_welcome": len(todo),
        "welcomed": sum(1 for sent, _ in outcomes.values() if sent),
    }
    if unreachable:
        result["no_private_channel"] = unreachable
        say(
            f"{len(unreachable)} helper(s) have no private channel: {', '.join(unreachable)} "
            "(ids only, no phones: reach them through the ledger, give them a channel, then "
            "run welcome again)"
        )
    if failed:
        result["not_delivered"] = failed
        say(f"{len(failed)} welcome(s) failed for good: {', '.join(failed)}; run again later")
    if pending := len(todo) - len(outcomes):
        result["unconfirmed"] = pending
        say(f"{pending} welcome(s) not confirmed within the wait (the worker may be behind)")
    return result


async def summary(
    settings: Settings, community_id: str, month: str, everyone: bool, wait_s: float
) -> dict[str, object]:
    first: date = parse_month(month)
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        # Service minutes as the month report counts them (assignments marked done).
        rows = {r["helper_id"]: r for r in await service_hours(conn, community_id, first)}
        # Only helpers on the roster now: one deactivated since is not messaged (the core
        # sends nothing to them either, so waiting for theirs would time out).
        active = set(await read.all_active(conn, community_id))
        helpers = active if everyone else set(rows) & active
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
    print(json.dumps(result, ensure_ascii=False))
    # Helpers without a private channel are reported, not a failure of the run; an
    # unanswered welcome is (the worker did not confirm it within --wait).
    return 1 if result.get("unconfirmed") else 0


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

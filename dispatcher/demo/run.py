"""`python -m dispatcher demo`: watch the service help a demo district, story by story,
through the path a real community uses.

Against `make run` (dev mode): loads a deterministic district through the admin API when the
database has no helpers yet; starts simulated phones on 127.0.0.1:8089 (demo_phones: where
`make run` points the worker's pushes); then the dev chat bot relays the brief's stories and
some everyday chatter to the signed bot API as group messages. The classifier decides what
each is; offers go out as pushes to the phones, whose owners answer through the signed links
in them; once a request is covered the requester tells the bot it is done. Each step is
printed as it happens, then a summary per story: pushes, link answers, the time to the
first accept. Nothing is written to Kafka here: every change goes through the API.

Escalation runs on the worker's DISPATCH_PLAN_TIME_SCALE; the phones' human delays are
multiplied by --time-scale (default: this shell's DISPATCH_PLAN_TIME_SCALE when set, else
0.05). `DISPATCH_PLAN_TIME_SCALE=0.02` for both `make run` and the demo plays everything,
escalations included, within a minute or two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import asyncpg
import httpx

from dispatcher.clock import utcnow
from dispatcher.demo.bot import DevBot
from dispatcher.demo.phones import DEFAULT_PORT, Phones, push_endpoints
from dispatcher.demo.stories import STORIES, ChatLine, chatter
from dispatcher.demo.trace import Board, Trace, describe
from dispatcher.ops.demo_district import COMMUNITIES, helpers
from dispatcher.record.connect import DsnError, connect, pg_failure
from dispatcher.record.read import helpers as read_helpers
from dispatcher.record.read import offers as read_offers
from dispatcher.settings import Settings, get_settings

STATUS_EVERY_S = 0.5
NO_PUSH_WARNING_S = 15.0
# Pushes to an endpoint that failed while no demo listened wait out its circuit breaker
# (30 s) and their retry backoff (up to 30 s) before they flow again.
NO_PUSH_GIVE_UP_S = 90.0


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher demo",
        description="Play the stories through the bot, the classifier, pushes and links.",
    )
    parser.add_argument("--api", default=f"http://{settings.api_host}:{settings.api_port}")
    parser.add_argument("--seed", type=int, default=7, help="district and behaviour seed")
    parser.add_argument("--helpers-per-community", type=int, default=100)
    parser.add_argument("--chatter", type=int, default=8, help="everyday group messages to add")
    default_scale = 0.05
    if os.environ.get("DISPATCH_PLAN_TIME_SCALE"):
        default_scale = settings.plan_time_scale
    parser.add_argument(
        "--time-scale",
        type=float,
        default=default_scale,
        help="human delays are multiplied by this (default: DISPATCH_PLAN_TIME_SCALE, else 0.05)",
    )
    parser.add_argument("--phones-port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to watch")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--force-load", action="store_true", help="load the district anyway")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="only load the district when the database has none (what `make run` does)",
    )
    parser.add_argument(
        "--push-endpoints",
        action="store_true",
        help="print DISPATCH_PUSH_ENDPOINTS aiming the worker at the phones, and exit",
    )
    return parser


def log(msg: str) -> None:
    print(msg, flush=True)


async def district_loaded(settings: Settings) -> int:
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        return await read_helpers.count_in(conn, [c for c, _ in COMMUNITIES])
    finally:
        await conn.close()


async def load_district(staff: httpx.AsyncClient, settings: Settings, bodies: list[Any]) -> None:
    gate = asyncio.Semaphore(16)

    async def put(body: dict[str, Any]) -> None:
        async with gate:
            r = await staff.put(f"/v1/admin/helpers/{body['helper_id']}", json=body)
            r.raise_for_status()

    await asyncio.gather(*(put(b) for b in bodies))
    deadline = time.monotonic() + 60
    while await district_loaded(settings) < len(bodies):  # the worker has them all
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not record the district's helpers in 60 s")
        await asyncio.sleep(0.5)


class Play:
    """Relays the messages and watches each request's status. Nobody resolves by hand: the
    assigned phones press 已完成 (dispatcher/demo/phones.py) and the request resolves."""

    def __init__(
        self,
        bot: DevBot,
        staff: httpx.AsyncClient,
        db: asyncpg.Pool,
        board: Board,
        run_id: str,
    ) -> None:
        self.bot = bot
        self.staff = staff
        self.db = db
        self.board = board
        self.run_id = run_id

    async def send(self, line: ChatLine) -> Trace:
        message_id = f"{line.key}-{self.run_id}"
        trace = self.board.sent(line, message_id)
        self.board.replied(trace, await self.bot.relay(line, message_id))
        return trace

    async def read_status(self, request_id: str) -> dict[str, Any] | None:
        """The request as staff see it (GET /v1/requests/{id}); None until recorded."""
        r = await self.staff.get(f"/v1/requests/{request_id}")
        if r.status_code == 404:  # queued, not recorded yet
            return None
        r.raise_for_status()
        status: dict[str, Any] = r.json()
        return status

    async def read_rings(self, offer_ids: list[str]) -> dict[str, str]:
        return await read_offers.rings(self.db, offer_ids)

    async def watch(self, traces: list[Trace]) -> None:
        for t in traces:
            if t.request_id is None or t.done:
                continue
            status = await self.read_status(t.request_id)
            if status is None:
                continue
            self.board.status(t, status)

    async def stop(self) -> None:
        await self.board.background.cancel()


async def play(args: argparse.Namespace, settings: Settings, staff: httpx.AsyncClient) -> int:
    board = Board()
    phones = Phones(board, seed=args.seed, scale=args.time_scale, port=args.phones_port)
    dsn = settings.pg_dsn.get_secret_value()
    async with (
        httpx.AsyncClient(base_url=args.api, timeout=15) as api,
        asyncpg.create_pool(dsn, min_size=1, max_size=2) as db,
    ):
        run_id = f"{int(utcnow().timestamp()):x}"
        player = Play(DevBot(api), staff, db, board, run_id)
        board.read_rings = player.read_rings
        await phones.start()
        log(
            f"phones listening on 127.0.0.1:{args.phones_port} (human delays × "
            f"{args.time_scale}); the worker's ladder runs on its own DISPATCH_PLAN_TIME_SCALE"
        )
        lines = [*STORIES, *chatter(args.seed, args.chatter)]
        traces: list[Trace] = []
        deadline = time.monotonic() + args.timeout
        warned = False
        try:
            for line in lines:
                traces.append(await player.send(line))
                await player.watch(traces)
                await asyncio.sleep(1)
            while time.monotonic() < deadline and not all(t.done for t in traces):
                await player.watch(traces)
                if phones.pushes == 0 and _silent(traces, NO_PUSH_WARNING_S) and not warned:
                    warned = True
                    log(NO_PUSH_HELP.format(default=DEFAULT_PORT, port=args.phones_port))
                if phones.pushes == 0 and _silent(traces, NO_PUSH_GIVE_UP_S):
                    log(f"still no push after {NO_PUSH_GIVE_UP_S:.0f} s: stopping")
                    break
                await asyncio.sleep(STATUS_EVERY_S)
            await player.watch(traces)
        finally:
            await player.stop()
            await phones.stop()
    report(traces, phones, board)
    if args.json:
        print(json.dumps(result(traces, phones, board), ensure_ascii=False), flush=True)
    return 0 if phones.pushes else 1


NO_PUSH_HELP = (
    "no push has reached the phones: the worker pushes to DISPATCH_PUSH_ENDPOINTS, read at its "
    "start. `make run` in dev mode points it at 127.0.0.1:{default} unless you set it "
    "yourself (`python -m dispatcher demo --push-endpoints [--phones-port N]` prints the value); "
    "the phones listen on 127.0.0.1:{port}. If pushes to it failed shortly before (no demo "
    "listening), they wait out its circuit breaker (30 s) first."
)


def _silent(traces: list[Trace], seconds: float) -> bool:
    """Requests have been out this long, yet not one push arrived."""
    sent = [t.sent_at for t in traces if t.request_id is not None]
    return bool(sent) and time.monotonic() - min(sent) > seconds


def report(traces: list[Trace], phones: Phones, board: Board) -> None:
    keys = {s.key for s in STORIES}
    log("")
    for t in traces:
        if t.line.key in keys:
            log("\n".join(describe(t)))
    chat = [t for t in traces if t.line.key not in keys]
    asked = [t for t in chat if t.is_request]
    resolved = sum(1 for t in asked if t.outcome == "resolved")
    log(
        f"\neveryday messages: {len(chat)} relayed, {len(asked)} classified as requests, "
        f"{resolved} resolved, {sum(1 for t in asked if not t.done)} still open"
    )
    answers = ", ".join(f"{n} {what}" for what, n in phones.answers.items()) or "none"
    log(
        f"phones: {phones.pushes} pushes received ({phones.duplicates} retries, "
        f"{phones.refused} with a bad signature); link answers: {answers}"
    )
    if board.unknown_pushes:
        log(f"({board.unknown_pushes} pushes were about requests this demo did not send)")


def result(traces: list[Trace], phones: Phones, board: Board) -> dict[str, Any]:
    keys = {s.key for s in STORIES}
    return {
        "stories": [t.summary() for t in traces if t.line.key in keys],
        "chatter": [t.summary() for t in traces if t.line.key not in keys],
        "pushes": phones.pushes,
        "push_retries": phones.duplicates,
        "bad_signatures": phones.refused,
        "answers": dict(phones.answers),
        "whistles": dict(board.whistles),
    }


async def run(args: argparse.Namespace, settings: Settings) -> int:
    token = settings.staff_token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=args.api, headers=headers, timeout=15) as staff:
        (await staff.get("/readyz")).raise_for_status()
        bodies = helpers(args.seed, args.helpers_per_community)
        have = await district_loaded(settings)
        if have == 0 or args.force_load:
            n = len(COMMUNITIES)
            log(
                f"empty database: loading the demo district, {len(bodies)} helpers in {n} "
                "communities (deterministic; `python -m dispatcher demo` plays the stories)"
            )
            await load_district(staff, settings, bodies)
        else:
            log(f"demo district already loaded ({have} helpers)")
        if args.load_only:
            return 0
        return await play(args, settings, staff)


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    try:
        chatter(args.seed, args.chatter)  # what `play` sends: refused now, not mid-run
    except ValueError as exc:
        parser.error(f"--chatter: {exc}")
    if args.push_endpoints:
        print(json.dumps(push_endpoints(args.phones_port)))
        return 0
    try:
        return asyncio.run(run(args, settings))
    except DsnError as exc:  # read first, before the pool: its DSN is the same
        return pg_failure("demo", exc)
    except (httpx.HTTPError, OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"demo: {type(exc).__name__}: {exc} (is `make run` up?)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

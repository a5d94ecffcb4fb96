"""`python -m dispatcher demo`: watch the service help a demo district, story by story.

Against the running service (`make run`; for escalations within a minute run the worker
with DISPATCH_PLAN_TIME_SCALE=0.02): loads a deterministic district through the admin API
when the database has no helpers yet, starts simulated phones (see demo_phones), submits
the brief's stories and a stream of everyday chat requests through POST /v1/requests, and
prints what happened to each. Open http://127.0.0.1:8080/dashboard beside it (sign in with
the staff token).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import asyncpg
import httpx

from dispatcher.ops.demo_district import COMMUNITIES, helpers
from dispatcher.ops.demo_phones import Phones, Trace
from dispatcher.ops.demo_stories import STORIES, chatter
from dispatcher.record.read import helpers as read_helpers
from dispatcher.settings import Settings, get_settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher demo",
        description="Play the stories against the running service with simulated phones.",
    )
    parser.add_argument("--api", default=f"http://{settings.api_host}:{settings.api_port}")
    parser.add_argument("--seed", type=int, default=7, help="district and behaviour seed")
    parser.add_argument("--helpers-per-community", type=int, default=100)
    parser.add_argument("--chatter", type=int, default=12, help="everyday requests to add")
    parser.add_argument(
        "--speed", type=float, default=0.05, help="human delays are multiplied by this"
    )
    parser.add_argument("--timeout", type=float, default=90, help="seconds to watch")
    parser.add_argument("--force-load", action="store_true", help="load the district anyway")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="only load the district when the database has none (what `make run` does)",
    )
    return parser


def log(msg: str) -> None:
    print(msg, flush=True)


async def district_loaded(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.pg_dsn.get_secret_value(), timeout=10)
    try:
        return await read_helpers.count_in(conn, [c for c, _ in COMMUNITIES])
    finally:
        await conn.close()


async def load_district(api: httpx.AsyncClient, settings: Settings, bodies: list[Any]) -> None:
    gate = asyncio.Semaphore(16)

    async def put(body: dict[str, Any]) -> None:
        async with gate:
            r = await api.put(f"/v1/admin/helpers/{body['helper_id']}", json=body)
            r.raise_for_status()

    await asyncio.gather(*(put(b) for b in bodies))
    deadline = time.monotonic() + 60
    while await district_loaded(settings) < len(bodies):  # the worker has them all
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not record the district's helpers in 60 s")
        await asyncio.sleep(0.5)


def describe(title: str, t: Trace) -> list[str]:
    rings: dict[str, int] = {}
    for ring in t.offers.values():
        rings[ring] = rings.get(ring, 0) + 1
    lines = [f"● {title}", f"  request {t.request_id[:8]} in {t.community_id}"]
    if t.emergency_advice:
        lines.append(f"  told to call {t.emergency_advice} at once (neighbours dispatched too)")
    ring_text = ", ".join(f"{r} {n}" for r, n in rings.items()) or "none"
    lines.append(f"  offers sent: {len(t.offers)} ({ring_text}); declined: {t.declined}")
    if t.escalations:
        lines.append(
            f"  widened to: {' → '.join(t.escalations)}" + (" (whistle)" if t.whistle else "")
        )
    for helper, after in t.assigned:
        lines.append(f"  accepted: {helper} after {after} s")
    outcome = f"{t.outcome} after {t.closed_after_s} s" if t.outcome else "still open"
    lines.append(f"  outcome: {outcome} ({len(t.assigned)}/{t.helpers_needed} helpers)")
    return lines


async def run(args: argparse.Namespace, settings: Settings) -> int:
    token = settings.staff_token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=args.api, headers=headers, timeout=15) as api:
        (await api.get("/readyz")).raise_for_status()
        bodies = helpers(args.seed, args.helpers_per_community)
        have = await district_loaded(settings)
        if have == 0 or args.force_load:
            n = len(COMMUNITIES)
            log(
                f"empty database: loading the demo district, {len(bodies)} helpers in {n} "
                "communities (deterministic; `python -m dispatcher demo` plays the stories)"
            )
            await load_district(api, settings, bodies)
        else:
            log(f"demo district already loaded ({have} helpers)")
        if args.load_only:
            return 0
        phones = Phones(settings, seed=args.seed, speed=args.speed)
        await phones.start()
        try:
            titled: list[tuple[str, Trace]] = []
            for story in STORIES:
                r = await api.post("/v1/requests", json=story.body)
                r.raise_for_status()
                reply = r.json()
                log(f"→ {story.title}\n  bot replies: {reply['reply_text']}")
                trace = phones.track(
                    reply["request_id"], story.body["place"]["community_id"], story.resolve_after_s
                )
                titled.append((story.title, trace))
                await asyncio.sleep(1)
            chat = chatter(args.seed, args.chatter)
            for i, body in enumerate(chat):
                r = await api.post("/v1/requests", json=body)
                r.raise_for_status()
                trace = phones.track(r.json()["request_id"], body["place"]["community_id"])
                titled.append((f"chat {i + 1}: {body['category']} / {body['urgency']}", trace))
                await asyncio.sleep(0.3)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and not all(
                t.done for _, t in titled[: len(STORIES)]
            ):
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)
        finally:
            await phones.stop()
    log("")
    for title, trace in titled[: len(STORIES)]:
        log("\n".join(describe(title, trace)))
    done = [t for _, t in titled[len(STORIES) :] if t.done]
    resolved = sum(1 for t in done if t.outcome == "resolved")
    log(
        f"\neveryday requests: {len(titled) - len(STORIES)} sent, {resolved} resolved, "
        f"{len(titled) - len(STORIES) - len(done)} still open when the demo stopped"
    )
    log(
        f"phones: {phones.answers['accept']} accepted, {phones.answers['decline']} declined, "
        f"{phones.answers['ignore']} never answered"
    )
    return 0


def main(argv: list[str]) -> int:
    settings = get_settings()
    args = build_parser(settings).parse_args(argv)
    try:
        return asyncio.run(run(args, settings))
    except (httpx.HTTPError, OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"demo: {type(exc).__name__}: {exc} (is `make run` up?)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

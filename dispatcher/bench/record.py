"""`python -m dispatcher bench record`: the record agent's write path, per event vs set-based.

Realistic events come from the real core (submissions on a generated community, then an
accept per request: opened, 120 advice, offer waves, assignment, stand-downs). The same
events are recorded in batches into two fresh databases, one path each, in the same run;
then both read models are compared row by row, so the faster path is also proven equal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from dispatcher.bench.community import build_state
from dispatcher.bench.match import NOW, _command, _spec
from dispatcher.core import DispatchState, apply, decide
from dispatcher.record.migrate import apply_migrations
from dispatcher.record.projection import record_events
from dispatcher.record.read.snapshot import snapshot
from dispatcher.settings import get_settings
from dispatcher.testing.stack import BASE_PG, default_pg_port
from schemas.commands import AcceptOffer, Command, DeclineOffer
from schemas.events import Event, OfferSent, OffersSent, sent_offers


def generate_events(requests: int, helpers: int, seed: int) -> list[Event]:
    lazy = build_state(helpers, seed, progress=False)
    state = DispatchState.rebuild(list(lazy.helpers.values()), [])
    events: list[Event] = []
    for i in range(requests):
        now = NOW + timedelta(seconds=i)
        decision = decide(state, _command(_spec(i, (i * 7919) % helpers)), now)
        apply(state, decision)
        events.extend(decision.events)
        offers = [
            (e, one)
            for e in decision.events
            if isinstance(e.body, OfferSent | OffersSent)
            for one in sent_offers(e.body)
        ]
        # Every third request the first helper declines, so the log has answers too; then
        # the next offered helper accepts.
        answers = [DeclineOffer, AcceptOffer] if i % 3 == 0 else [AcceptOffer]
        for n, (kind, (offer, one)) in enumerate(zip(answers, offers, strict=False)):
            answer = Command(
                command_id=f"{kind.__name__}-{i}",
                community_id=offer.community_id,
                issued_at=now,
                body=kind(
                    request_id=offer.request_id or "",
                    offer_id=one.offer_id,
                    helper_id=one.helper_id,
                ),
            )
            decision = decide(state, answer, now + timedelta(seconds=n + 1))
            apply(state, decision)
            events.extend(decision.events)
    return events


async def _fresh_db(base: str, name: str) -> str:
    admin = await asyncpg.connect(base.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = base.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return dsn


async def _drop_db(base: str, name: str) -> None:
    admin = await asyncpg.connect(base.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _record_all(dsn: str, events: list[Event], batch: int, bulk: bool) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        for i in range(0, len(events), batch):
            await record_events(conn, events[i : i + batch], bulk=bulk)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def _snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return await snapshot(conn)
    finally:
        await conn.close()


def local_pg_dsn() -> str:
    """DISPATCH_PG_DSN when set; else the local stack's PostgreSQL on DISPATCH_PG_PORT, as the
    other benches and the tests find it (the settings' default names port 55432 only)."""
    if "DISPATCH_PG_DSN" in os.environ:
        return get_settings().pg_dsn.get_secret_value()
    return BASE_PG.format(port=default_pg_port(), db="dispatch")


async def compare(
    requests: int, helpers: int, batch: int, seed: int, base_dsn: str | None = None
) -> dict[str, Any]:
    base = base_dsn or local_pg_dsn()
    events = generate_events(requests, helpers, seed)
    print(
        f"  {len(events)} events from {requests} requests; recording both ways…",
        file=sys.stderr,
        flush=True,
    )
    tag = uuid.uuid4().hex[:8]
    names = {"per_event": f"bench_record_{tag}_a", "set_based": f"bench_record_{tag}_b"}
    try:
        dsns = {k: await _fresh_db(base, n) for k, n in names.items()}
        seconds = {
            "per_event": await _record_all(dsns["per_event"], events, batch, bulk=False),
            "set_based": await _record_all(dsns["set_based"], events, batch, bulk=True),
        }
        same = await _snapshot(dsns["per_event"]) == await _snapshot(dsns["set_based"])
    finally:
        for name in names.values():
            await _drop_db(base, name)
    return {
        "events": len(events),
        "batch": batch,
        "per_event_events_per_s": round(len(events) / seconds["per_event"], 1),
        "set_based_events_per_s": round(len(events) / seconds["set_based"], 1),
        "speedup": round(seconds["per_event"] / seconds["set_based"], 2),
        "read_models_equal": same,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--helpers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200, help="events per transaction")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(compare(args.requests, args.helpers, args.batch, args.seed))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['events']} events, batches of {result['batch']}: per event "
            f"{result['per_event_events_per_s']}/s, set-based {result['set_based_events_per_s']}/s "
            f"(×{result['speedup']}); read models equal: {result['read_models_equal']}"
        )
    return 0 if result["read_models_equal"] else 1

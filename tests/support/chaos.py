"""Chaos scenario for the crash tests: load, answers, kills, and the trace analysis.

Load: signed bot requests at a steady rate; volunteers accept (some twice), decline, resolve;
requesters cancel; staff re-save helpers. Workers write a trace (`DISPATCH_TRACE_DIR`,
streams/trace.py) of every command they processed, with its partition and offset, and of
every deadline they fired; the analysis checks the trace against the topic's end offsets and
the consumer group's committed offsets, and the outcome against PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.stats import nearest_rank
from dispatcher.testing.stack import LocalStack
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    DeclineOffer,
    ResolveRequest,
)
from schemas.event_batch import decode_events
from schemas.events import Event, OfferSent, OffersSent, sent_offers
from schemas.vocab import Party
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer

STAFF = {"Authorization": "Bearer dev-staff-token"}


@dataclass
class Load:
    communities: list[str]
    rate: float = float(os.environ.get("CRASH_RATE", "10"))  # requests per second to the API
    min_requests: int = 1000
    helpers_per_community: int = 8
    acked: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)


async def roster(client: httpx.AsyncClient, load: Load) -> list[dict[str, Any]]:
    helpers = []
    for community in load.communities:
        for i in range(load.helpers_per_community):
            h = builders.helper(f"{community}-h{i}", community, ["driving", "carrying"])
            h["place"] = builders.place(community, building=f"b{i % 4}", household_id=f"hh{i}")
            r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
            assert r.status_code == 202, r.text
            helpers.append(h)
    return helpers


async def submit(client: httpx.AsyncClient, load: Load, stop: asyncio.Event, seed: int) -> None:
    """Paced submissions until `stop` is set and at least `min_requests` were acknowledged."""
    rng = random.Random(seed)
    sem = asyncio.Semaphore(16)
    start = time.monotonic()
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        community = load.communities[i % len(load.communities)]
        body = builders.request(
            community,
            urgency=rng.choice(["critical", "urgent"]),
            category=rng.choice(["hospital_transport", "carrying"]),
            helpers_needed=rng.choice([1, 1, 2]),
        )
        # A building of its own: the API merges reports of one incident (same building and
        # category within minutes), and every request here must be a distinct incident.
        body["place"]["building_id"] = f"b-{i}"
        async with sem:
            last = "no answer"
            for _ in range(40):  # a bot retries on 5xx; only a 202 counts as acknowledged
                try:
                    r = await BotClient(client).post("/v1/requests", body)
                except httpx.TransportError as exc:
                    # A pooled keep-alive connection the API closed (uvicorn: after 5 s idle)
                    # just as it was reused: not acknowledged, so the bot sends it again.
                    last = type(exc).__name__
                    await asyncio.sleep(0.5)
                    continue
                if r.status_code == 202:
                    load.acked.append(r.json()["request_id"])
                    return
                last = f"{r.status_code} {r.text}"
                await asyncio.sleep(0.5)
            raise AssertionError(f"request {i} never acknowledged: {last}")

    i = 0
    while not (stop.is_set() and i >= load.min_requests):
        await asyncio.sleep(max(0.0, start + i / load.rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(i)))
        i += 1
    await asyncio.gather(*tasks)


async def answer(
    stack: LocalStack,
    load: Load,
    helpers: list[dict[str, Any]],
    client: httpx.AsyncClient,
    stop: asyncio.Event,
    seed: int,
) -> None:
    """Volunteers, requesters and staff: every kind of command, while the workers die."""
    rng = random.Random(seed)
    env = stack.env()
    consumer = AIOKafkaConsumer(
        env["DISPATCH_EVENTS_TOPIC"],
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=f"answers-{stack.ns}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    last_roster = time.monotonic()
    try:
        async with CommandProducer(stack.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"]) as p:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                for msgs in batch.values():
                    for event in (e for msg in msgs for e in decode_events(msg.value)):
                        await _answer_one(p, load, event, rng)
                if time.monotonic() - last_roster > 0.5:  # staff re-save a helper
                    last_roster = time.monotonic()
                    h = rng.choice(helpers)
                    r = await client.put(
                        f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF
                    )
                    if r.status_code == 202:
                        load.answers["upsert_helper"] += 1
    finally:
        await consumer.stop()


async def _answer_one(p: CommandProducer, load: Load, event: Event, rng: random.Random) -> None:
    body = event.body
    rid = event.request_id or ""
    if isinstance(body, OfferSent | OffersSent):
        for one in sent_offers(body):
            roll = rng.random()
            ids = {"request_id": rid, "offer_id": one.offer_id, "helper_id": one.helper_id}
            if roll < 0.45:
                for _ in range(2 if rng.random() < 0.2 else 1):  # some tap twice
                    await p.send(AcceptOffer(**ids), event.community_id)
                    load.answers["accept_offer"] += 1
            elif roll < 0.6:
                await p.send(DeclineOffer(**ids), event.community_id)
                load.answers["decline_offer"] += 1
    elif body.type == "helper_assigned" and rng.random() < 0.3:
        await p.send(
            ResolveRequest(request_id=rid, by=Party.HELPER, helper_id=body.helper_id),
            event.community_id,
        )
        load.answers["resolve_request"] += 1
    elif body.type == "request_opened" and rng.random() < 0.05:
        await p.send(CancelRequest(request_id=rid, by=Party.REQUESTER), event.community_id)
        load.answers["cancel_request"] += 1


# ---------------------------------------------------------------------------- analysis


def read_traces(trace_dir: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(trace_dir.glob("trace-*.jsonl")):
        lines = []
        for raw in path.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # the one line a SIGKILL cut short
        out[path.stem.removeprefix("trace-")] = lines
    return out


async def end_offsets(
    stack: LocalStack, topic_setting: str = "DISPATCH_COMMANDS_TOPIC"
) -> dict[int, int]:
    topic = stack.env()[topic_setting]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def committed_offsets(
    stack: LocalStack, topic_setting: str = "DISPATCH_COMMANDS_TOPIC"
) -> dict[int, int]:
    """The workers' group's committed offsets per partition of a topic (`commands`)."""
    env = stack.env()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(env["DISPATCH_APP_ID"])
    finally:
        await admin.close()
    topic = env[topic_setting]
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def offset_report(traces: dict[str, list[dict[str, Any]]], ends: dict[int, int]) -> dict[str, Any]:
    """Every offset processed at least once; forward jumps inside one ownership counted."""
    processed: dict[int, set[int]] = defaultdict(set)
    gaps: list[tuple[str, int, int, int]] = []
    for worker, lines in traces.items():
        last: dict[int, int] = {}
        for line in lines:
            if line["k"] == "own":
                last = {}  # a new generation starts from the committed offset
            elif line["k"] == "cmd":
                p, o = line["p"], line["o"]
                processed[p].add(o)
                if p in last and o > last[p] + 1:
                    gaps.append((worker, p, last[p], o))
                last[p] = o
    missing = {
        p: sorted(set(range(end)) - processed[p])[:20]
        for p, end in ends.items()
        if set(range(end)) - processed[p]
    }
    return {"offset_gaps": len(gaps), "gap_sample": gaps[:5], "unprocessed_offsets": missing}


def deadline_lateness(traces: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Deadline lateness, in seconds, from the trace.

    * after restart: deadlines the worker found in its state when it took a partition over
      and that fell due while nobody owned it: first fire - partition owned again;
    * fire: every deadline's first fire - max(due, owned); includes deadlines of requests
      that were still in the backlog when the partition was taken over;
    * applied after restart: deadline commands issued before the partition was owned again,
      applied by the dispatch agent - owned again (behind the backlog of the outage).
    """
    after_restart: list[float] = []
    fired: list[float] = []
    applied_after_restart: list[float] = []
    for lines in traces.values():
        for line in lines:
            if line["k"] == "fire" and line.get("attempt") == 0 and line.get("owned"):
                late = line["at"] - max(line["due"], line["owned"])
                fired.append(late)
                if line.get("restored") and line["due"] < line["owned"]:
                    after_restart.append(late)
            elif (
                line["k"] == "cmd"
                and line["t"] == "deadline_reached"
                and line.get("ow")
                and line["i"] < line["ow"]
            ):
                applied_after_restart.append(line["at"] - line["ow"])
    return {
        "deadline_lateness_after_restart_s": pct(after_restart),
        "deadline_fire_lateness_s": pct(fired),
        "deadline_applied_after_restart_s": pct(applied_after_restart),
    }


def pct(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(nearest_rank(values, 0.50), 3),
        "p99": round(nearest_rank(values, 0.99), 3),
        "max": round(max(values), 3),
    }


def first_command_after(lines: list[dict[str, Any]], t: float, partitions: set[int]) -> float:
    for line in lines:
        if line["k"] == "cmd" and line["at"] > t and line["p"] in partitions:
            return float(line["at"])
    return float("nan")


async def outcome(conn: asyncpg.Connection, acked: list[str]) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT request_id, helpers_needed, closed_at FROM requests WHERE request_id = ANY($1)",
        acked,
    )
    recorded = {r["request_id"]: r for r in rows}
    events = await conn.fetch(
        "SELECT request_id, type, body FROM event_log WHERE request_id = ANY($1)", acked
    )
    per_type: Counter[tuple[str, str]] = Counter()
    offers: Counter[str] = Counter()
    assigned_pairs: Counter[tuple[str, str]] = Counter()
    slots: Counter[str] = Counter()
    for e in events:
        per_type[(e["request_id"], e["type"])] += 1
        body = json.loads(e["body"])
        if e["type"] == "offer_sent":
            offers[body["offer_id"]] += 1
        elif e["type"] == "offers_sent":  # a wave's offers in one event
            for one in body["offers"]:
                offers[one["offer_id"]] += 1
        elif e["type"] == "helper_assigned":
            assigned_pairs[(e["request_id"], body["helper_id"])] += 1
            slots[e["request_id"]] += 1
        elif e["type"] == "helper_withdrawn":
            slots[e["request_id"]] -= 1
    once = (
        "request_opened",
        "request_resolved",
        "request_cancelled",
        "request_expired",
        "request_referred",
    )
    duplicates = sum(1 for (_, t), n in per_type.items() if t in once and n > 1)
    duplicates += sum(1 for n in offers.values() if n > 1)
    return {
        "acknowledged": len(acked),
        "lost": sum(1 for rid in acked if rid not in recorded),
        "not_terminal": sum(1 for r in recorded.values() if r["closed_at"] is None),
        # These requests ask for presence skills only: slots == helpers_needed.
        "double_assigned": sum(
            1 for rid, n in slots.items() if n > recorded[rid]["helpers_needed"]
        ),
        "helper_assigned_twice": sum(1 for n in assigned_pairs.values() if n > 1),
        "duplicate_events": duplicates,
        "assigned": sum(assigned_pairs.values()),
        "offers": len(offers),
    }

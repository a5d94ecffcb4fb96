"""Simulated volunteers' phones for the demo, and a record of what happened to each request.

Nobody holds the demo district's helpers' phones (their offers go to the default webhook),
so these stand in: they read `OfferSent` from the events topic and answer by producing
AcceptOffer / DeclineOffer to the commands topic (key = community id), the very commands a
helper's answer link produces through the API. Each helper answers after a human-like
delay (scaled down by `speed`), or never; an assigned helper resolves the request later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dispatcher.partitioning import CommunityPartitioner
from dispatcher.settings import Settings
from schemas.commands import AcceptOffer, CommandBody, DeclineOffer, ResolveRequest, new_command
from schemas.events import Event
from schemas.vocab import Party

TERMINAL = {"request_resolved", "request_cancelled", "request_referred", "request_expired"}


@dataclass
class Trace:
    """What one request went through, from the events."""

    request_id: str
    community_id: str
    submitted_at: datetime
    helpers_needed: int = 1
    offers: dict[str, str] = field(default_factory=dict)  # offer id -> ring
    declined: int = 0
    escalations: list[str] = field(default_factory=list)
    whistle: bool = False
    emergency_advice: str | None = None
    assigned: list[tuple[str, float]] = field(default_factory=list)  # helper, seconds
    outcome: str | None = None
    closed_after_s: float | None = None
    resolve_after_s: float = 20.0

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def since(self, at: datetime) -> float:
        return round((at - self.submitted_at).total_seconds(), 1)


def persona(seed: int, helper_id: str) -> tuple[str, float]:
    """("accept" | "decline" | "ignore", delay in unscaled seconds), stable per helper."""
    digest = hashlib.sha256(f"{seed}:{helper_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if "-pair-" in helper_id:  # the paired neighbour who left her number: answers at once
        return "accept", rng.uniform(3, 8)
    roll = rng.random()
    if roll < 0.4:
        return "accept", rng.uniform(8, 60)
    if roll < 0.65:
        return "decline", rng.uniform(5, 30)
    return "ignore", 0.0


class Phones:
    def __init__(self, settings: Settings, *, seed: int, speed: float) -> None:
        self.settings = settings
        self.seed = seed
        self.speed = speed
        self.traces: dict[str, Trace] = {}
        self.answers: dict[str, int] = {"accept": 0, "decline": 0, "ignore": 0}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        # Events can arrive before the POST that caused them has returned its request id.
        self._pending: dict[str, list[Event]] = {}

    async def start(self) -> None:
        """Sit at the end of the events topic before any story is submitted."""
        topic = self.settings.events_topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            partitioner=CommunityPartitioner(self.settings.community_partitions),
        )
        await self._producer.start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not tps:
            raise RuntimeError(f"topic {topic} not found: is the service running?")
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        self._loop_task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._loop_task] if self._loop_task else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._loop_task] if self._loop_task else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    def track(self, request_id: str, community_id: str, resolve_after_s: float = 20.0) -> Trace:
        trace = self.traces.setdefault(
            request_id, Trace(request_id, community_id, datetime.now(UTC))
        )
        trace.resolve_after_s = resolve_after_s
        for event in self._pending.pop(request_id, []):
            self._on_event(event)
        return trace

    async def _listen(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            try:
                event = Event.model_validate_json(record.value or b"")
            except ValueError:
                continue
            self._on_event(event)

    def _on_event(self, e: Event) -> None:
        trace = self.traces.get(e.request_id or "")
        if trace is None:  # not tracked (yet): keep a little, in case it is about to be
            if e.request_id:
                self._pending.setdefault(e.request_id, []).append(e)
                while len(self._pending) > 1000:
                    self._pending.pop(next(iter(self._pending)))
            return
        b = e.body
        if b.type == "request_opened":
            trace.helpers_needed = b.helpers_needed
        elif b.type == "offer_sent":
            trace.offers[b.offer_id] = str(b.ring)
            self._spawn(self._answer(e.community_id, trace.request_id, b.offer_id, b.helper_id))
        elif b.type == "offer_declined":
            trace.declined += 1
        elif b.type == "ring_escalated":
            trace.escalations.append(str(b.to_ring))
        elif b.type == "whistle_blown":
            trace.whistle = True
        elif b.type == "emergency_call_advised":
            trace.emergency_advice = str(b.number)
        elif b.type == "helper_assigned":
            trace.assigned.append((b.helper_id, trace.since(e.occurred_at)))
            if len(trace.assigned) == trace.helpers_needed:  # covered: done after a while
                self._spawn(self._resolve_later(trace, trace.assigned[0][0]))
        elif b.type in TERMINAL:
            trace.outcome = b.type.removeprefix("request_")
            trace.closed_after_s = trace.since(e.occurred_at)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, community: str, request_id: str, offer_id: str, helper: str) -> None:
        what, delay = persona(self.seed, helper)
        self.answers[what] += 1
        if what == "ignore":
            return
        await asyncio.sleep(delay * self.speed)
        cls = AcceptOffer if what == "accept" else DeclineOffer
        await self._send(community, cls(request_id=request_id, offer_id=offer_id, helper_id=helper))

    async def _resolve_later(self, trace: Trace, helper: str) -> None:
        await asyncio.sleep(trace.resolve_after_s * self.speed)
        if not trace.done:
            body = ResolveRequest(
                request_id=trace.request_id, by=Party.HELPER, helper_id=helper, rating=5
            )
            await self._send(trace.community_id, body)

    async def _send(self, community: str, body: CommandBody) -> None:
        assert self._producer is not None
        cmd = new_command(body, community_id=community, issued_at=datetime.now(UTC))
        await self._producer.send_and_wait(
            self.settings.commands_topic, cmd.model_dump_json().encode(), key=community.encode()
        )

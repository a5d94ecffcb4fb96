"""The dashboard's live feed: one Kafka consumer per API process, fanned out to SSE clients.

The consumer has no group (it assigns every partition itself and starts at the end), so
any number of API replicas can watch without stealing partitions from each other or from
the workers, and nothing is committed. It starts with the first subscriber and stops with
the app. Events are reduced to a public view first: enums, counts and ids, never a
phone number, an address, free text or a helper id. Subscribers are capped per staff account
and per process, and each gets only its own communities' events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from dispatcher.kafka_security import client_options
from dispatcher.ops import api_metrics
from dispatcher.settings import Settings
from schemas.event_batch import decode_record
from schemas.events import Event

log = logging.getLogger(__name__)

# Per event type, the body fields a staff dashboard may show (all enums or numbers).
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "request_opened": ("category", "urgency", "helpers_needed"),
    "emergency_call_advised": ("number",),
    "offer_sent": ("ring", "step", "category", "urgency", "remote"),
    "offers_sent": ("ring", "step", "category", "urgency", "offers"),
    "offer_declined": (),
    "offer_expired": (),
    "offer_failed": (),
    "helper_assigned": ("slot", "remote"),
    "offer_stood_down": ("reason", "was_assigned"),
    "offers_stood_down": ("reason", "offers"),
    "ring_escalated": ("from_ring", "to_ring", "step"),
    "whistle_blown": ("step", "category", "urgency", "open_slots"),
    "referred_to_emergency": ("to", "step"),
    "staff_not_reached": ("rung", "step", "recipients", "roles"),  # roles: duty, grid_worker…
    "helper_withdrawn": ("slot", "no_show"),
    "helper_set_off": ("slot",),
    "assignment_completed": ("slot", "minutes", "minutes_given"),
    "request_resolved": ("by", "duration_s", "rating"),
    "request_cancelled": ("by",),
    "request_referred": ("to",),  # the department's name is typed text: not to every stream
    "request_expired": ("offers_sent",),
    "command_rejected": ("command_type", "reason"),
    "request_claimed": ("by", "via"),  # a staff account name, never a token
    "whistle_reported_back": ("role",),
    "request_held": ("until", "local_time"),
    "request_released": (),
    "request_paused": ("until", "local_time", "step"),
}


def public_view(event: Event) -> dict[str, Any] | None:
    """What the dashboard sees of an event; None for events it does not show."""
    fields = PUBLIC_FIELDS.get(event.body.type)
    if fields is None:
        return None  # helper_updated: roster changes are not shown
    body = event.body.model_dump(mode="json")
    if "offers" in body:  # several offers to an event: how many (no helper's id), the ring
        offers = body["offers"]
        body = {**body, "offers": len(offers)}
        if event.body.type == "offers_sent":
            body["ring"] = offers[-1]["ring"]  # a search gives the nearest first: the widest
    return {
        "event_id": event.event_id,
        "type": event.body.type,
        "community_id": event.community_id,
        "request_id": event.request_id,
        "occurred_at": event.occurred_at.isoformat(),
        **{f: body[f] for f in fields if f in body},
    }


# Caps on open streams. Each holds a task and a queue of up to `queue_size` views: one
# person's dashboard on a few screens is normal, more is a leak or an attack.
MAX_STREAMS_PER_STAFF = 3
MAX_STREAMS_PER_PROCESS = 100
TOO_MANY_STREAMS = "too_many_streams"  # this account's share is used up
STREAMS_FULL = "streams_full"  # this process's


class FeedFull(Exception):
    """No room for another subscriber; `reason` is TOO_MANY_STREAMS or STREAMS_FULL."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(eq=False)
class Subscriber:
    """One open stream: whose it is, the communities it may see, its pending views."""

    owner: str
    scope: frozenset[str] | None  # None: every community (district-wide)
    queue: asyncio.Queue[dict[str, Any]]

    def wants(self, view: dict[str, Any]) -> bool:
        return self.scope is None or view.get("community_id") in self.scope


class LiveFeed:
    """Fan-out of public event views to a bounded number of subscribers (bounded queues)."""

    def __init__(self, settings: Settings, *, backlog: int = 50, queue_size: int = 500) -> None:
        self.settings = settings
        self.recent: deque[dict[str, Any]] = deque(maxlen=backlog)
        self.max_per_owner = MAX_STREAMS_PER_STAFF
        self.max_streams = MAX_STREAMS_PER_PROCESS
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()  # set once the consumer sits at the topic's end

    async def ensure_started(self) -> None:
        async with self._lock:
            if self._task is None or self._task.done():
                self.ready.clear()
                self._task = asyncio.create_task(self._run(), name="ops-live-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def streams(self, owner: str | None = None) -> int:
        """Open subscribers: all of them, or `owner`'s."""
        return sum(1 for s in self._subscribers if owner is None or s.owner == owner)

    def open(self, owner: str, scope: frozenset[str] | None) -> Subscriber:
        """A new subscriber, or FeedFull. Synchronous, so a caller can still refuse the
        request; whoever opens must `close` it however the stream ends."""
        if self.streams() >= self.max_streams:
            raise FeedFull(STREAMS_FULL, f"this server has {self.max_streams} live streams open")
        if self.streams(owner) >= self.max_per_owner:
            raise FeedFull(
                TOO_MANY_STREAMS,
                f"this staff account already has {self.max_per_owner} live streams open; "
                "close a dashboard tab or wait for one to end",
            )
        subscriber = Subscriber(owner, scope, asyncio.Queue(self._queue_size))
        self._subscribers.add(subscriber)
        api_metrics.FEED_SUBSCRIBERS.set(len(self._subscribers))
        return subscriber

    def close(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        api_metrics.FEED_SUBSCRIBERS.set(len(self._subscribers))

    def backlog(self, subscriber: Subscriber) -> list[dict[str, Any]]:
        """The recent views this subscriber may see (the page dedupes by event id)."""
        return [view for view in self.recent if subscriber.wants(view)]

    def publish(self, view: dict[str, Any]) -> None:
        self.recent.append(view)
        for subscriber in list(self._subscribers):
            # Scoped before queueing: another community's events neither cost this
            # subscriber's queue room nor push its own events out.
            if not subscriber.wants(view):
                continue
            try:
                subscriber.queue.put_nowait(view)
            except asyncio.QueueFull:  # a stalled screen must not hold the others back
                api_metrics.FEED_DROPPED.inc()

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka away: keep trying, the page shows "reconnecting"
                log.warning("live feed consumer failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(2)

    async def _consume(self) -> None:
        topic = self.settings.events_topic
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            partitions = await _wait_partitions(consumer, topic)
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the end offsets now, so "ready" means "at the end"
                await consumer.position(tp)
            self.ready.set()
            async for record in consumer:
                try:
                    decoded = decode_record(record.value or b"")
                except (ValidationError, ValueError):
                    api_metrics.FEED_EVENTS.inc()
                    continue  # the workers dead-letter it; the dashboard just skips it
                # Events this release cannot read (the record agent dead-letters them) are
                # skipped; the rest of the decision still shows.
                events = decoded.events
                api_metrics.FEED_EVENTS.inc(len(events) + len(decoded.bad))
                for event in events:
                    view = public_view(event)
                    if view is not None:
                        self.publish(view)
        finally:
            self.ready.clear()
            await consumer.stop()


async def _wait_partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # A consumer without a subscription keeps no metadata for the topic
    # (`partitions_for_topic` stays None): ask the cluster directly.
    for _ in range(60):
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await asyncio.sleep(0.5)
    raise RuntimeError(f"topic {topic} has no partitions")


def sse_message(view: dict[str, Any]) -> str:
    data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    return f"id: {view['event_id']}\nevent: dispatch\ndata: {data}\n\n"

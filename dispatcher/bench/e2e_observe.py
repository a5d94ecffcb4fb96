"""What `bench e2e` watches, on an event loop of its own in a daemon thread (so the load
generator's loop never delays a timestamp): a minimal push receiver (HTTP/1.1 keep-alive,
answers 200 to everything) and two aiokafka consumers, of the events and of the commands
topics.

It records, by `time.monotonic()` (one clock for the whole machine):
- the first offer event (`offers_sent`, or an older worker's `offer_sent`) per request id
  (intake → first offer),
- the first pushed offer per request id at the receiver (intake → phone),
- deadline lateness: for each `deadline_reached` command (issued_at = its due time) the
  `occurred_at` of the first event it caused, minus the due time (as the worker measures).

Also the bench bot's Standard Webhooks signing (the product's own signing function).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from dispatcher.api import webhook_signature
from dispatcher.push.signing import webhook_secret_bytes
from dispatcher.testing.push_receiver import PushReceiver, Received
from schemas.event_batch import peek_events

_REQUEST_ID = re.compile(rb'"request_id":"([^"]+)"')
_COMMAND_ID = re.compile(rb'"command_id":"([^"]+)"')
_ISSUED = re.compile(rb'"issued_at":"([^"]+)"')
# The head of an event's JSON, in `Event`'s field order: request id (or null), occurred_at,
# caused_by, the body's type.
_EVENT_HEAD = re.compile(
    rb'"request_id":(?:"([^"]*)"|null),"occurred_at":"([^"]+)","caused_by":"([^"]+)",'
    rb'"body":\{"type":"([a-z_]+)"'
)
# An offer's event: one offer (a worker before the waves' events), or a wave's.
_OFFER_KINDS = (b"offer_sent", b"offers_sent")
PENDING_MAX = 200_000
# A record's value, its Kafka timestamp (epoch ms), the monotonic time it was read.
_Reader = Callable[[bytes, int, float, "Observations"], None]


def signed_headers(
    secret: str,
    bot_id: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    target: str = "/v1/requests",
) -> dict[str, str]:
    """A bot's POST to `target`: method and path are signed with the body."""
    payload = webhook_signature.bound_payload("POST", target, body)
    signed = webhook_signature.signed_headers(
        [webhook_secret_bytes(secret)], payload, webhook_id=msg_id, timestamp=timestamp
    )
    return {"content-type": "application/json", "x-bot-id": bot_id, **signed}


def _epoch(iso: bytes | str) -> float:
    text = iso.decode() if isinstance(iso, bytes) else iso
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Observations:
    offer_event_at: dict[str, float] = field(default_factory=dict)  # request id → monotonic
    offer_push_at: dict[str, float] = field(default_factory=dict)
    # Wall clock (epoch s): the worker's offer_sent occurred_at, and the push's receipt.
    offer_occurred: dict[str, float] = field(default_factory=dict)
    offer_push_wall: dict[str, float] = field(default_factory=dict)
    # The events record that carried the first offer: its Kafka timestamp (the worker's
    # producer stamps it when it sends: after the decision; epoch s, whole milliseconds),
    # and `time.time() - time.monotonic()` when observing began, to set it against the
    # monotonic times above (one process, one run: the two clocks do not drift apart).
    offer_record_created: dict[str, float] = field(default_factory=dict)
    wall_minus_monotonic: float = field(default_factory=lambda: time.time() - time.monotonic())
    pushes: int = 0
    events: int = 0
    commands: int = 0
    # deadline lateness samples: (monotonic time observed, lateness seconds)
    lateness: list[tuple[float, float]] = field(default_factory=list)
    _deadline_due: dict[str, float] = field(default_factory=dict)  # command id → due epoch
    _caused: dict[str, float] = field(default_factory=dict)  # command id → occurred epoch

    def note_deadline(self, command_id: str, due: float, now: float) -> None:
        occurred = self._caused.pop(command_id, None)
        if occurred is not None:
            self.lateness.append((now, occurred - due))
        else:
            self._deadline_due[command_id] = due
            _trim(self._deadline_due)

    def note_caused(self, command_id: str, occurred: float, now: float) -> None:
        due = self._deadline_due.pop(command_id, None)
        if due is not None:
            self.lateness.append((now, occurred - due))
        elif command_id not in self._caused:
            self._caused[command_id] = occurred
            _trim(self._caused)


def _trim(d: dict[str, float]) -> None:
    if len(d) > PENDING_MAX:  # unmatched entries (not deadline-caused): drop the oldest half
        for k in list(d)[: PENDING_MAX // 2]:
            del d[k]


class Observer:
    """Receiver + consumer on their own loop in a daemon thread."""

    def __init__(self, bootstrap: str, events_topic: str, commands_topic: str) -> None:
        self.bootstrap = bootstrap
        self.events_topic = events_topic
        self.commands_topic = commands_topic
        self.obs = Observations()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="observer")
        self._receiver: PushReceiver | None = None
        self._consumer: AIOKafkaConsumer | None = None  # events: timestamps first offers
        self._commands: AIOKafkaConsumer | None = None  # commands: deadline lateness only
        self._tasks: list[asyncio.Task[None]] = []
        self._admin: Any = None

    @property
    def thread_id(self) -> int | None:
        """The OS id of the receiver's thread (its CPU is counted apart)."""
        return self._thread.native_id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/push"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_server(), self._loop).result(10)

    def start_consumer(self) -> None:
        """Once the topics exist: read them from their current end."""
        asyncio.run_coroutine_threadsafe(self._start_consumer(), self._loop).result(60)

    def lag(self, group: str) -> int | None:
        """Messages of the commands and events topics the worker group has not committed."""
        try:
            return asyncio.run_coroutine_threadsafe(self._lag(group), self._loop).result(15)
        except Exception:
            return None

    async def _lag(self, group: str) -> int:
        from aiokafka.admin import AIOKafkaAdminClient

        assert self._consumer is not None and self._commands is not None
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await self._admin.start()
        committed = await self._admin.list_consumer_group_offsets(group)
        lag = 0
        for consumer in (self._consumer, self._commands):
            parts = list(consumer.assignment())
            ends = await consumer.end_offsets(parts)
            for tp in parts:
                done = committed.get(tp)
                lag += ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
        return lag

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ---------------------------------------------------------------- receiver
    async def _start_server(self) -> None:
        self._receiver = await PushReceiver(record=False, on_request=self._pushed).start()
        self.port = self._receiver.port

    def _pushed(self, request: Received) -> None:
        obs = self.obs
        obs.pushes += 1
        body = request.body
        if b'"push.batch"' in body:  # several deliveries in one POST (batch_max > 1)
            for entry in json.loads(body)["data"]["deliveries"]:
                if entry.get("kind") == "offer" and entry.get("request_id"):
                    obs.offer_push_at.setdefault(entry["request_id"], request.at)
                    obs.offer_push_wall.setdefault(entry["request_id"], time.time())
        elif b'"push.offer"' in body:
            m = _REQUEST_ID.search(body)
            if m:
                rid = m.group(1).decode()
                obs.offer_push_at.setdefault(rid, request.at)
                obs.offer_push_wall.setdefault(rid, time.time())

    # ---------------------------------------------------------------- consumer
    async def _start_consumer(self) -> None:
        # Two consumers: the events one fetches as soon as a record is there (its arrival
        # time is the measurement); the commands one only reads wall-clock fields (issued_at
        # against the caused events' occurred_at), so it waits for up to 200 ms of records
        # per fetch instead of paying a fetch round trip per record on the bench's CPU.
        self._consumer = await self._assigned(self.events_topic, fetch_max_wait_ms=100)
        self._commands = await self._assigned(
            self.commands_topic, fetch_max_wait_ms=200, fetch_min_bytes=1 << 20
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._consume(self._consumer, self._event)),
            loop.create_task(self._consume(self._commands, self._command)),
        ]

    async def _assigned(self, topic: str, **settings: Any) -> AIOKafkaConsumer:
        """A consumer of every partition of `topic`, from its current end."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **settings,
        )
        await consumer.start()
        found: set[int] | None = None
        for _ in range(100):
            found = consumer.partitions_for_topic(topic)
            if found:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        parts = [TopicPartition(topic, p) for p in sorted(found or ())]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)  # resolve now: nothing before this is observed
        return consumer

    async def _consume(self, consumer: AIOKafkaConsumer, read: _Reader) -> None:
        obs = self.obs
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.monotonic()
            for messages in batches.values():
                for m in messages:
                    read(m.value, m.timestamp, now, obs)

    @staticmethod
    def _command(value: bytes, created_ms: int, now: float, obs: Observations) -> None:
        obs.commands += 1
        if b'"deadline_reached"' in value:
            cid, issued = _COMMAND_ID.search(value), _ISSUED.search(value)
            if cid and issued:
                obs.note_deadline(cid.group(1).decode(), _epoch(issued.group(1)), now)

    @staticmethod
    def _event(value: bytes, created_ms: int, now: float, obs: Observations) -> None:
        """A record of the events topic: one decision's events (schemas/event_batch.py).

        Scanned, not decoded: the few fields it needs sit in a fixed order at the head of
        each event's JSON (schemas/events.py `Event`), and a decision's events share their
        cause, whose time is parsed once. A record laid out otherwise is decoded in full."""
        heads = _EVENT_HEAD.findall(value)
        if len(heads) != value.count(b'"event_id":'):
            Observer._event_decoded(value, created_ms, now, obs)
            return
        obs.events += len(heads)
        cause = b""
        for rid, occurred_at, caused_by, kind in heads:
            if kind in _OFFER_KINDS and rid:
                request_id = rid.decode()
                if request_id not in obs.offer_event_at:
                    obs.offer_event_at[request_id] = now
                    obs.offer_occurred[request_id] = _epoch(occurred_at)
                    obs.offer_record_created[request_id] = created_ms / 1000
            if caused_by != cause:  # the first event of a cause decides (note_caused)
                cause = caused_by
                obs.note_caused(caused_by.decode(), _epoch(occurred_at), now)

    @staticmethod
    def _event_decoded(value: bytes, created_ms: int, now: float, obs: Observations) -> None:
        for event in peek_events(value):
            obs.events += 1
            rid, occurred = event.get("request_id"), _epoch(event["occurred_at"])
            offered = event["body"]["type"] in ("offer_sent", "offers_sent")
            if offered and rid and rid not in obs.offer_event_at:
                obs.offer_event_at[rid] = now
                obs.offer_occurred[rid] = occurred
                obs.offer_record_created[rid] = created_ms / 1000
            obs.note_caused(event["caused_by"], occurred, now)

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for consumer in (self._consumer, self._commands):
            if consumer is not None:
                await consumer.stop()
        if self._admin is not None:
            await self._admin.close()
        if self._receiver is not None:
            await self._receiver.stop()

"""The `config` topic: each process follows it into its view; the API writes to it.

The follower is a plain aiokafka consumer without a group: it assigns itself every
partition, reads from the beginning (the compacted topic holds one current record per
entity, so this is small), says `loaded` once it has reached the end offsets it saw at
start, and keeps following. Nothing is committed: a restart reads the topic again.
The writer produces with acks=all and returns the record's position, so the API can wait
until its own view has applied it (read-your-writes) before answering.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from pydantic import ValidationError

from dispatcher.config.view import ConfigView
from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings
from schemas.config import ConfigRecord

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (partition, offset)

# The config topic is idle nearly always. Its consumers long-poll: the broker answers a fetch
# as soon as a record arrives (fetch_min_bytes 1), so a change is applied as fast as with
# aiokafka's 500 ms default, but an idle consumer sends one fetch per 10 s instead of two per
# second (docs/performance-log.md, session 8). Below aiokafka's 40 s request timeout.
IDLE_FETCH_WAIT_MS = 10_000


class ConfigFollower:
    def __init__(
        self,
        settings: Settings,
        view: ConfigView,
        on_change: Callable[[ConfigRecord], None] = lambda record: None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.on_change = on_change
        self._progress = asyncio.Condition()
        self.loaded = asyncio.Event()  # read up to the end offsets seen at start
        # Set by the owner once it has done what loading calls for (production: seeding an
        # empty store); only then is the view used (view.loaded).
        self.ready = asyncio.Event()

    def set_ready(self) -> None:
        self.view.loaded = True
        self.ready.set()

    async def run(self) -> None:
        """Follow the topic until cancelled; reconnect (and read again) after errors."""
        while True:
            consumer = AIOKafkaConsumer(
                **client_options(self.settings),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("config follower: %s; reconnecting", type(exc).__name__)
            finally:
                await consumer.stop()
            await asyncio.sleep(1.0)

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        topic = self.settings.config_topic
        parts: set[int] | None = None
        while not parts:
            # Without a subscription the consumer keeps no metadata for the topic: ask the
            # cluster (as dispatcher/ops/live_feed.py does).
            cluster = await consumer._client.fetch_all_metadata()
            parts = cluster.partitions_for_topic(topic)
            if not parts:
                log.warning("config topic %s not found yet (python -m dispatcher topics)", topic)
                await asyncio.sleep(1.0)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        # The end offsets first: once assigned, the consumer's fetch may be held by the broker
        # (a long poll on an empty topic), and the broker answers a connection's requests in
        # order, so a request sent after it would wait as long.
        ends = {tp.partition: off for tp, off in (await consumer.end_offsets(tps)).items()}
        consumer.assign(tps)
        for tp in tps:  # resume where this view stands (0 on the first pass)
            consumer.seek(tp, self.view.positions.get(tp.partition, 0))
        self._check_loaded(ends)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                for message in records:
                    self._apply(tp.partition, message.offset, message.value)
            if batches:
                async with self._progress:
                    self._progress.notify_all()
            self._check_loaded(ends)

    def _apply(self, partition: int, offset: int, value: bytes | None) -> None:
        self.view.positions[partition] = offset + 1
        if value is None:  # a Kafka tombstone: we never write one; nothing to fold
            return
        try:
            record = ConfigRecord.model_validate_json(value)
        except (ValidationError, ValueError):
            log.error("config record at %d:%d is not a config record; ignored", partition, offset)
            return
        if self.view.apply(record):
            log.info("config: %s changed by %s (%s)", record.key, record.actor, record.change_id)
            self.on_change(record)

    def _check_loaded(self, ends: dict[int, int]) -> None:
        if self.loaded.is_set():
            return
        if all(self.view.positions.get(p, 0) >= end for p, end in ends.items()):
            self.loaded.set()
            log.info(
                "config loaded: %d bots, %d endpoints, %d communities",
                len(self.view.bots().bots),
                len(self.view.endpoints),
                len(self.view.communities()),
            )

    async def wait_applied(self, position: Position, timeout: float) -> bool:
        """Until this view has applied the record at `position`; False on timeout."""
        partition, offset = position

        def done() -> bool:
            return self.view.positions.get(partition, 0) > offset

        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(done)
        except TimeoutError:
            return done()
        return True


class ConfigWriter:
    """Produces config records (acks=all). The API is the only writer; the worker only to
    seed an empty store in production (bootstrap.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **client_options(self.settings),
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=10_000,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def write(self, record: ConfigRecord) -> Position:
        producer = await self._started()
        meta = await producer.send_and_wait(
            self.settings.config_topic,
            key=record.key.encode(),
            value=record.model_dump_json().encode(),
        )
        return meta.partition, meta.offset

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

"""The record agent: `events` → PostgreSQL (the event log and the read models).

It needs no Faust table, so it runs on a plain aiokafka consumer group, not a Faust stream:
the crash tests showed faust-streaming deliver a stream past its committed offset around
rebalances (#216, #221), which loses events for good if they are acknowledged. Here the rule
is simple: offsets are committed only after the PostgreSQL transaction that recorded them
has committed; anything redelivered is deduplicated by event id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from dispatcher.kafka_security import client_options
from dispatcher.ops import metrics as ops_metrics
from dispatcher.record.db import keep_session
from dispatcher.record.migrate import migrate
from dispatcher.record.projection import first_bodies, record_events
from dispatcher.settings import Settings
from schemas.event_batch import Decoded, decode_record
from schemas.events import Event
from streams.dead_letter import DeadLetterSink, short
from streams.decoded_events import DecodedEvents
from streams.runtime import Stats

log = logging.getLogger(__name__)


def record_group(settings: Settings) -> str:
    return f"{settings.app_id}-record"


@dataclass
class RecordAgent:
    settings: Settings
    stats: Stats
    sink: DeadLetterSink
    pool: asyncpg.Pool | None = None
    # Shared with the notify agent, which reads the same records (streams/decoded_events.py).
    decoded: DecodedEvents = field(default_factory=DecodedEvents)
    # How the agent waits out a batch window (replaced in unit tests).
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def install(self, app: faust.App) -> None:
        @app.task
        async def record() -> None:
            await self.run()

    async def run(self) -> None:
        """Consume `events` in batches; record each batch, then commit. Runs until cancelled."""
        settings = self.settings
        while True:
            consumer = AIOKafkaConsumer(
                settings.events_topic,
                **client_options(settings),
                group_id=record_group(settings),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=settings.record_batch_size,
                session_timeout_ms=int(settings.broker_session_timeout_seconds * 1000),
                heartbeat_interval_ms=int(settings.broker_heartbeat_interval_seconds * 1000),
            )
            try:
                await consumer.start()
                await self.consume(consumer)
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:
                log.warning("record consumer failed (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()

    async def consume(self, consumer: AIOKafkaConsumer) -> None:
        """Record what `consumer` polls, commit, then let the next batch gather.

        The first record after a quiet spell is polled at once (the fetch is a long poll); after
        each batch the agent waits out the rest of `record_batch_wait_seconds`, so under load
        one fetch, one PostgreSQL transaction and one offset commit carry a window's records
        instead of one burst's. Offsets are still committed only after PostgreSQL committed.
        """
        settings = self.settings
        window = settings.record_batch_wait_seconds
        while True:
            batches = await consumer.getmany(
                timeout_ms=max(int(window * 1000), 100), max_records=settings.record_batch_size
            )
            records = [r for part in batches.values() for r in part]
            if not records:
                continue
            started = self.clock()
            await self.record_batch(records)  # retries until PostgreSQL has them
            try:
                await consumer.commit()
            except CommitFailedError:
                # A rebalance moved partitions: their records come again to the new
                # owner, and recording them twice changes nothing.
                log.info("record commit lost to a rebalance; records will be redelivered")
            rest = window - (self.clock() - started)
            if rest > 0 and len(records) < settings.record_batch_size:
                await self.sleep(rest)  # a full batch means a backlog: poll again at once

    async def record_batch(self, batch: list[Any]) -> None:
        decoded: list[Event] = []
        records: list[Decoded] = []
        for record in batch:  # a record holds one decision's events (schemas/event_batch.py)
            try:
                one = self.decoded.decode(record.value)
            except (ValidationError, ValueError) as exc:
                await self.sink.send(record, f"undecodable event: {short(exc)}", "decode")
                continue
            decoded += one.events
            records.append(one)
            for bad in one.bad:  # one letter per event this release cannot read
                reason = f"undecodable event: {bad.describe()}"
                await self.sink.send(record, reason, "decode", payload=bad.raw)
        if not decoded:
            return
        bodies = first_bodies(records)  # the bodies' JSON this worker's writer made
        pool = await self.get_pool()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with pool.acquire() as conn:
                    self.stats.recorded += await record_events(conn, decoded, bodies=bodies)
                ops_metrics.observe_events(decoded)
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                # PostgreSQL away: wait and retry rather than drop (the offset stays uncommitted).
                log.warning("recording failed (%s), retry %d", type(exc).__name__, attempt)
                await asyncio.sleep(min(2 ** min(attempt, 5) * 0.2, 5))
            except Exception:
                # A batch the database rejects: record event by event, dead-letter the bad ones.
                log.exception("batch rejected: recording one by one")
                await self._record_one_by_one(pool, batch, decoded)
                return

    async def _record_one_by_one(
        self, pool: asyncpg.Pool, raw: list[Any], decoded: list[Event]
    ) -> None:
        by_id = {e.event_id: e for e in decoded}
        for record in raw:
            try:
                events = [by_id[e.event_id] for e in decode_record(record.value).events]
            except (ValidationError, ValueError):
                continue  # already dead-lettered
            for e in events:
                try:
                    async with pool.acquire() as conn:
                        self.stats.recorded += await record_events(conn, [e])
                except Exception as one_exc:
                    reason = f"record failed for event {e.event_id}: {short(one_exc)}"
                    await self.sink.send(record, reason, "record")

    async def get_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            # Migrations first, on their own connection (dispatcher/record/migrate.py): the
            # pool exists only once they succeeded, and a start cancelled meanwhile leaves no
            # pool and no lock behind; the next call migrates again.
            await migrate(self.settings)
            # The recording leaves no session state: no reset query per release.
            self.pool = await asyncpg.create_pool(
                self.settings.pg_dsn.get_secret_value(),
                min_size=1,
                max_size=self.settings.pg_pool_max,
                reset=keep_session,
            )
        return self.pool

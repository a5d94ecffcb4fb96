"""The record agent: `events` → PostgreSQL (the event log and the read models).

It needs no Faust table, so it runs on a plain aiokafka consumer group, not a Faust stream:
the crash tests showed faust-streaming deliver a stream past its committed offset around
rebalances (#216, #221), which loses events for good if they are acknowledged. Here the rule
is simple: offsets are committed only after the PostgreSQL transaction that recorded them
has committed; anything redelivered is deduplicated by event id.

PostgreSQL is a projection: while it is away, restarting or full, the agent waits and retries
(the offsets stay uncommitted) and never ends, so the worker's dispatching goes on. Only an
event PostgreSQL refuses for its data is dead-lettered and passed (`pg_failure`, which the
config recorder shares).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import asyncpg
import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from dispatcher.kafka_security import client_options
from dispatcher.ops import metrics as ops_metrics
from dispatcher.ops.event_metrics import RequestSeed
from dispatcher.record.db import keep_session
from dispatcher.record.metric_seeds import request_seeds
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


class PgFailure(Enum):
    UNREACHABLE = "unreachable"  # PostgreSQL away, restarting or full: wait and write again
    REFUSED = "refused"  # the data itself: written again it would fail again
    UNKNOWN = "unknown"  # not known to be the data's: waited out too, loudly


UNREACHABLE = (
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.InterfaceError,  # the connection lost under the client
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many clients, disk full
    # Class 57: shutting down, starting up (57P03), this session terminated (57P01).
    asyncpg.exceptions.OperatorInterventionError,
)
# A value PostgreSQL refuses (SQLSTATE 22, 23, 54) or JSON cannot hold.
REFUSED = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.exceptions.ProgramLimitExceededError,
    ValueError,
    TypeError,
)


def pg_failure(exc: BaseException) -> PgFailure:
    """What a failed write means for the records it carried (both recorders)."""
    if isinstance(exc, REFUSED):  # first: asyncpg's client-side DataError is an InterfaceError
        return PgFailure.REFUSED
    if isinstance(exc, UNREACHABLE):
        return PgFailure.UNREACHABLE
    return PgFailure.UNKNOWN


def backoff(attempt: int) -> float:
    """Seconds before retry `attempt` (1, 2, …): 0.4, doubling, at most 5."""
    return float(min(2 ** min(attempt, 5) * 0.2, 5))


def log_retry(logger: logging.Logger, what: str, exc: BaseException, attempt: int) -> None:
    if pg_failure(exc) is PgFailure.UNREACHABLE:
        logger.warning("%s failed (%s), retry %d", what, type(exc).__name__, attempt)
    else:  # not a known passing state: with its trace, for someone to look at
        logger.error("%s failed, retry %d", what, attempt, exc_info=exc)


@dataclass
class Seeding:
    """The batch's requests its metrics did not see opened (`wanted`), read from PostgreSQL
    once, before the batch's first write: as recorded before these events, so a first accept
    among them still counts as first (a retry after a partial one-by-one pass reads none)."""

    wanted: set[str]
    seeds: list[RequestSeed] = field(default_factory=list)
    read: bool = False

    async def read_once(self, conn: asyncpg.Connection) -> None:
        if self.read or not self.wanted:
            return
        try:
            self.seeds = await request_seeds(conn, self.wanted)
        except Exception as exc:
            if pg_failure(exc) is PgFailure.UNREACHABLE:
                raise  # the write would fail as well: both are tried again
            # Metrics only: never a reason to record the batch one by one (and the requests
            # are asked for again with their next events).
            log.exception("requests for the event metrics not read")
            self.wanted = set()
        self.read = True


@dataclass
class RecordAgent:
    settings: Settings
    stats: Stats
    sink: DeadLetterSink
    pool: asyncpg.Pool | None = None
    # Shared with the notify agent, which reads the same records (streams/decoded_events.py).
    decoded: DecodedEvents = field(default_factory=DecodedEvents)
    # How the agent waits out a batch window and a retry (replaced in unit tests).
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
            except KafkaError as exc:
                log.warning("record consumer failed (%s); reconnecting", type(exc).__name__)
                await self.sleep(1)
            except Exception:
                # Never out of the Faust task: that would stop the worker, dispatching too.
                log.exception("record consumer failed; reconnecting")
                await self.sleep(5)
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
        """Record `batch`; returns once PostgreSQL has it, but for the events it refused for
        their data (dead-lettered). Until then it waits and retries: nothing is committed."""
        decoded, records = await self._decode(batch)
        if not decoded:
            return
        bodies = first_bodies(records)  # the bodies' JSON this worker's writer made
        lettered: set[str] = set()  # refused events: one letter each, however many tries
        seeding = Seeding(ops_metrics.requests_to_seed(decoded))
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._record(batch, decoded, bodies, lettered, seeding)
                break
            except Exception as exc:
                log_retry(log, "event recording", exc, attempt)
                await self.sleep(backoff(attempt))
        # Every event the core emitted, whichever path recorded it (or letters it refused:
        # the dispatching happened all the same).
        ops_metrics.observe_events(decoded, seeding.seeds, seeding.wanted)

    async def _decode(self, batch: list[Any]) -> tuple[list[Event], list[Decoded]]:
        """The batch's readable events and records; a letter for each unreadable one."""
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
        return decoded, records

    async def _record(
        self,
        batch: list[Any],
        decoded: list[Event],
        bodies: dict[str, str],
        lettered: set[str],
        seeding: Seeding,
    ) -> None:
        """One try; raises what is to be waited out."""
        pool = await self.get_pool()  # here: PostgreSQL may be away at the first batch
        try:
            async with pool.acquire() as conn:
                await seeding.read_once(conn)
                self.stats.recorded += await record_events(conn, decoded, bodies=bodies)
        except Exception as exc:
            if pg_failure(exc) is PgFailure.UNREACHABLE:
                raise
            # A batch the database rejects: record event by event, dead-letter the bad ones.
            log.exception("batch rejected: recording one by one")
            await self._record_one_by_one(pool, batch, decoded, lettered)

    async def _record_one_by_one(
        self, pool: asyncpg.Pool, raw: list[Any], decoded: list[Event], lettered: set[str]
    ) -> None:
        by_id = {e.event_id: e for e in decoded}
        for record in raw:
            try:
                events = [by_id[e.event_id] for e in decode_record(record.value).events]
            except (ValidationError, ValueError):
                continue  # already dead-lettered
            for e in events:
                if e.event_id in lettered:
                    continue
                try:
                    async with pool.acquire() as conn:
                        self.stats.recorded += await record_events(conn, [e])
                except Exception as one_exc:
                    if pg_failure(one_exc) is not PgFailure.REFUSED:
                        raise  # not this event's fault: the whole batch waits, uncommitted
                    reason = f"record failed for event {e.event_id}: {short(one_exc)}"
                    await self.sink.send(record, reason, "record")
                    lettered.add(e.event_id)

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

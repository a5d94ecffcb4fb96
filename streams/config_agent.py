"""The worker's configuration: its live view (push endpoints, whistle recipients) and the
config recorder (the `config` topic → PostgreSQL, with the audit).

The view is followed from the topic (dispatcher/config/follower.py); the notify agent holds
its endpoint registry, which changes in place, so a changed URL is used from the next push
without a restart. The recorder is a plain aiokafka consumer group like the record agent:
it commits only after PostgreSQL has the change, and a redelivered change is a no-op. A
record it cannot read, or one PostgreSQL refuses for its data, is dead-lettered with the
reason and passed (one bad record must not stop the recorder in a crash loop); PostgreSQL
away, restarting or full is waited out instead, as the record agent does (`pg_failure`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from dispatcher.clock import Clock
from dispatcher.config.bootstrap import seed_records
from dispatcher.config.follower import IDLE_FETCH_WAIT_MS, ConfigFollower, ConfigWriter
from dispatcher.config.secrets import diff, fingerprinted
from dispatcher.config.view import ConfigView
from dispatcher.kafka_security import client_options
from dispatcher.record.config_log import record_change
from dispatcher.record.db import keep_session
from dispatcher.settings import Settings
from schemas.config import ConfigRecord
from streams.dead_letter import DeadLetterSink, Stage, short
from streams.record_agent import PgFailure, backoff, log_retry, pg_failure
from streams.runtime import Stats

log = logging.getLogger(__name__)


def config_record_group(settings: Settings) -> str:
    return f"{settings.app_id}-config-record"


@dataclass
class ConfigAgent:
    settings: Settings
    clock: Clock
    view: ConfigView = field(init=False)
    follower: ConfigFollower = field(init=False)
    pool: asyncpg.Pool | None = None
    # Where unreadable or refused records go; the worker's own (shared counter) when given,
    # else one of its own on the Faust app's dead-letter topic (`install`).
    sink: DeadLetterSink | None = None
    # How the recorder waits before a retry (replaced in unit tests).
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        dev = self.settings.mode == "dev"
        # The worker's bootstrap layer (dev only): DISPATCH_PUSH_ENDPOINTS.
        self.view = ConfigView(bootstrap_endpoints=self.settings.push_endpoints if dev else ())
        self.follower = ConfigFollower(self.settings, self.view)

    def install(self, app: faust.App) -> None:
        if self.sink is None:
            topic = app.topic(
                self.settings.dead_letter_topic,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
            )
            self.sink = DeadLetterSink(topic, Stats(), self.clock)

        @app.task
        async def config_follow() -> None:
            await self.follow()

        @app.task
        async def config_record() -> None:
            await self.record()

    async def follow(self) -> None:
        task = asyncio.create_task(self.follower.run(), name="config-follower")
        try:
            await self.follower.loaded.wait()
            if self.settings.mode != "dev":  # production: seed an empty store's endpoints
                records = seed_records(
                    self.view, [], list(self.settings.push_endpoints), self.clock.now()
                )
                if records:
                    writer = ConfigWriter(self.settings)
                    try:
                        for record in records:
                            last = await writer.write(record)
                    finally:
                        await writer.close()
                    await self.follower.wait_applied(last, timeout=30)  # in this view too
            self.follower.set_ready()
            await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def record(self) -> None:
        settings = self.settings
        while True:
            consumer = AIOKafkaConsumer(
                settings.config_topic,
                **client_options(settings),
                group_id=config_record_group(settings),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,  # idle: long-poll (config/follower.py)
                session_timeout_ms=int(settings.broker_session_timeout_seconds * 1000),
                heartbeat_interval_ms=int(settings.broker_heartbeat_interval_seconds * 1000),
            )
            try:
                await consumer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=100)
                    records = [r for part in batches.values() for r in part]
                    if not records:
                        continue
                    for message in records:
                        await self.record_one(message)
                    try:
                        await consumer.commit()
                    except CommitFailedError:
                        log.info("config record commit lost to a rebalance; will be redelivered")
            except KafkaError as exc:
                log.warning("config recorder failed (%s); reconnecting", type(exc).__name__)
                await self.sleep(1)
            except Exception:
                # Never out of the Faust task: that would stop the worker, dispatching too.
                log.exception("config recorder failed; reconnecting")
                await self.sleep(5)
            finally:
                await consumer.stop()

    async def record_one(self, message: Any) -> None:
        """One `config` record (an aiokafka ConsumerRecord) into PostgreSQL, or dead-lettered."""
        if message.value is None:
            return
        try:
            record = ConfigRecord.model_validate_json(message.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(message, f"not a config record: {short(exc)}", "decode")
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                refused = await self._write(record)
            except Exception as exc:  # PostgreSQL away, restarting or full: the offset waits
                log_retry(log, "config recording", exc, attempt)
                await self.sleep(backoff(attempt))
                continue
            if refused is not None:
                reason = f"config change {record.change_id} refused: {refused}"
                await self._dead_letter(message, reason, "record")
            return

    async def _write(self, record: ConfigRecord) -> str | None:
        """Store the change; None once stored, else why PostgreSQL (or JSON) refused it."""
        pool = await self._pool()  # outside the refusals: a bad pool is no bad record
        key = self.settings.helper_id_key.get_secret_value().encode()
        try:
            await record_change(
                pool,
                change_id=record.change_id,
                kind=record.kind.value,
                entity_id=record.id,
                communities=list(record.communities),
                actor=record.actor,
                at=record.issued_at,
                state=None if record.state is None else fingerprinted(record.state, key),
                diff=diff,
            )
        except Exception as exc:
            if pg_failure(exc) is not PgFailure.REFUSED:
                raise
            return short(exc)
        return None

    async def _dead_letter(self, message: Any, reason: str, stage: Stage) -> None:
        if self.sink is None:  # not installed in a Faust app: nowhere to send it
            log.error("config record %s@%s passed: %s", message.partition, message.offset, reason)
            return
        await self.sink.send(message, reason, stage)

    async def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(  # one transaction per change: no reset
                self.settings.pg_dsn.get_secret_value(), min_size=1, max_size=2, reset=keep_session
            )
        return self.pool

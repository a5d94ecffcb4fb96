"""The record path: `events` → PostgreSQL, on a plain aiokafka consumer group.

It needs no Faust table, so it does not use a Faust stream: the crash tests showed
faust-streaming deliver a stream past its committed offset around rebalances (#216, #221),
which loses events for good if they are acknowledged. Here the rule is simple: offsets are
committed only after the PostgreSQL transaction that recorded them has committed; anything
redelivered is deduplicated by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError

from dispatcher.settings import Settings

log = logging.getLogger(__name__)


def record_group(settings: Settings) -> str:
    return f"{settings.app_id}-record"


async def run_recorder(
    settings: Settings, record_batch: Callable[[list[Any]], Awaitable[None]]
) -> None:
    """Consume `events` in batches; record each batch, then commit. Runs until cancelled."""
    while True:
        consumer = AIOKafkaConsumer(
            settings.events_topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=record_group(settings),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.record_batch_size,
            session_timeout_ms=int(settings.broker_session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(settings.broker_heartbeat_interval_seconds * 1000),
        )
        try:
            await consumer.start()
            wait_ms = max(1, int(settings.record_batch_wait_seconds * 1000))
            while True:
                batches = await consumer.getmany(
                    timeout_ms=max(wait_ms, 100), max_records=settings.record_batch_size
                )
                records = [r for part in batches.values() for r in part]
                if not records:
                    continue
                await record_batch(records)  # retries until PostgreSQL has them
                try:
                    await consumer.commit()
                except CommitFailedError:
                    # A rebalance moved partitions: their records come again to the new
                    # owner, and recording them twice changes nothing.
                    log.info("record commit lost to a rebalance; records will be redelivered")
        except asyncio.CancelledError:
            raise
        except KafkaError as exc:
            log.warning("record consumer failed (%s); reconnecting", type(exc).__name__)
            await asyncio.sleep(1)
        finally:
            await consumer.stop()

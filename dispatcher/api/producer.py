"""The API's one way to change dispatch state: produce a command to Kafka and wait for acks=all."""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiokafka import AIOKafkaProducer

from dispatcher.kafka_security import client_options
from dispatcher.partitioning import CommunityPartitioner
from dispatcher.settings import Settings


class CommandSink(Protocol):
    async def send(self, topic: str, key: str, value: bytes) -> None: ...


class KafkaCommandSink:
    """Acknowledge nothing to a caller before Kafka has the command on all in-sync replicas."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._producer is not None:
                return
            producer = AIOKafkaProducer(
                **client_options(self._settings),
                acks="all",
                enable_idempotence=True,
                linger_ms=0,
                partitioner=CommunityPartitioner(self._settings.community_partitions),
                request_timeout_ms=10_000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def send(self, topic: str, key: str, value: bytes) -> None:
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        await self._producer.send_and_wait(topic, value=value, key=key.encode())

    async def check(self) -> None:
        """Raise unless the broker answers a metadata request for the commands topic."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        parts = await asyncio.wait_for(
            self._producer.partitions_for(self._settings.commands_topic), timeout=3
        )
        if not parts:
            raise RuntimeError(f"topic {self._settings.commands_topic} has no partitions")

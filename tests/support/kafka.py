"""Talk to the real broker from tests: produce commands, read back what agents wrote."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.commands import Command, CommandBody, new_command


class CommandProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def __aenter__(self) -> CommandProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, body: CommandBody, community_id: str) -> Command:
        command = new_command(body, community_id=community_id, issued_at=datetime.now(UTC))
        await self.send_raw(community_id, command.model_dump_json().encode())
        return command

    async def send_raw(self, key: str, value: bytes) -> None:
        await self._producer.send_and_wait(self.topic, value=value, key=key.encode())


async def read_topic(bootstrap: str, topic: str, *, until: int, timeout: float = 30) -> list[Any]:
    """Read a topic from the beginning until `until` records arrived or `timeout` passed."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < until and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                records.extend(msgs)
    finally:
        await consumer.stop()
    return records

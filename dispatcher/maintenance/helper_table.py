"""The workers' helper table as the maintenance commands read it (its compacted changelog
topic, read to its end) and the commands they send through the commands topic, the one
write path (rekey-helpers, reseal-helpers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

from dispatcher.api.producer import KafkaCommandSink
from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings
from schemas.commands import Command
from schemas.records import HelperState
from streams.state_store import read_helpers

JOIN_TIMEOUT_S = 60.0
# The workers' KafkaUser may read groups named so (deploy/k8s/kafka-strimzi.yaml): every
# maintenance command reads under this one prefix.
GROUP_PREFIX = "rekey-helpers-"


class NoHelperTable(KafkaError):
    """The helper table's changelog topic is not on the broker (the text says which)."""


EX_UNAVAILABLE = 69  # sysexits.h: what `topics` and the maintenance commands exit with


def kafka_failure(settings: Settings, exc: BaseException) -> str:
    """One line for a Kafka failure of a maintenance command (the broker away, or no
    helper table), never a traceback."""
    if isinstance(exc, NoHelperTable):
        return str(exc.args[0])
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return f"Kafka at {settings.kafka_bootstrap} not reachable: {reason}"


async def read_helper_states(settings: Settings) -> list[HelperState]:
    """The latest record per helper in the helper table's changelog (read to its end).
    Raises NoHelperTable when the changelog topic is not there (no worker has run under
    DISPATCH_APP_ID, or it is not the workers' app id)."""
    topic = f"{settings.app_id}-helpers-changelog"
    missing = NoHelperTable(
        f"no topic {topic} on Kafka at {settings.kafka_bootstrap}: no worker has run with "
        f"DISPATCH_APP_ID={settings.app_id} (is it the workers' app id?)"
    )
    try:
        return await _read_helper_states(settings, topic, missing)
    except UnknownTopicOrPartitionError:  # deleted while read
        raise missing from None


async def _read_helper_states(
    settings: Settings, topic: str, missing: NoHelperTable
) -> list[HelperState]:
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}",  # throwaway: commits nothing
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    latest: dict[bytes, bytes | None] = {}
    try:
        # Inside the `try`: a start that fails (Kafka away) still closes the client.
        await consumer.start()
        # Asked once: a consumer subscribed to a topic that is not there waits for it (40 s
        # of "not found in cluster metadata" warnings) and then raises.
        if topic not in await consumer.topics():
            raise missing
        consumer.subscribe([topic])
        ends: dict[TopicPartition, int] | None = None
        give_up = time.monotonic() + JOIN_TIMEOUT_S
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    latest[r.key] = r.value
            assigned = consumer.assignment()
            if not assigned:
                if time.monotonic() > give_up:
                    raise SystemExit(f"no partitions of {topic} assigned: is the topic there?")
                continue  # still joining
            if ends is None:
                ends = await consumer.end_offsets(list(assigned))
            positions = [await consumer.position(tp) for tp in ends]
            if all(pos >= ends[tp] for pos, tp in zip(positions, ends, strict=True)):
                break
    finally:
        await consumer.stop()
    helpers, _, _ = read_helpers(latest.items())  # a profile is a record of its own
    return helpers


async def send_commands(settings: Settings, commands: Sequence[Command]) -> None:
    """Each command produced to the commands topic (acknowledged), in order."""
    if not commands:
        return
    sink = KafkaCommandSink(settings)
    try:
        for command in commands:
            await sink.send(
                settings.commands_topic, command.community_id, command.model_dump_json().encode()
            )
    finally:
        await sink.stop()

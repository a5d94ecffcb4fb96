"""Create the project's Kafka topics with the configured partition count.

Faust's changelog topics must have as many partitions as the source topic, so the source
topics are created here, explicitly, never by broker auto-creation.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dispatcher.settings import Settings, get_settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    return [settings.commands_topic, settings.events_topic, settings.dead_letter_topic]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; return the names created. Existing topics are checked, not changed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={"min.insync.replicas": "1"},
            )
            for name in topic_names(settings)
            if name not in existing
        ]
        created: list[str] = []
        if wanted:
            try:
                await admin.create_topics(wanted)
                created = [t.name for t in wanted]
            except TopicAlreadyExistsError:  # another process raced us: fine
                pass
        for desc in await admin.describe_topics(topic_names(settings)):
            n = len(desc["partitions"])
            if n != settings.topic_partitions:
                raise RuntimeError(
                    f"topic {desc['topic']} has {n} partitions, settings say "
                    f"{settings.topic_partitions}: changelogs would not match (reset the stack)"
                )
        return created
    finally:
        await admin.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher topics", description="Create the project's Kafka topics."
    )
    parser.parse_args(argv)
    settings = get_settings()
    created = asyncio.run(ensure_topics(settings))
    names = ", ".join(topic_names(settings))
    print(f"topics ready ({settings.topic_partitions} partitions): {names}; created now: {created}")
    return 0

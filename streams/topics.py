"""Create the project's Kafka topics with the configured partition count.

Faust's changelog topics must have as many partitions as the source topic, so the source
topics are created here, explicitly, never by broker auto-creation.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    for_code,
)

from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings, get_settings

log = logging.getLogger(__name__)


TABLES = ("requests", "helpers")  # the worker's Faust tables (streams/worker.py)
EX_UNAVAILABLE = 69  # sysexits.h: a service we need is not there


class TopicsRefused(Exception):
    """The broker refused to create topics: one line per topic, with the broker's reason."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def _refusals(topic_errors: list[tuple[object, ...]]) -> tuple[list[str], list[str]]:
    """CreateTopics' per-topic answer (aiokafka returns it, never raises it): the names
    created, and one line per topic the broker refused. "Already exists" (another process
    raced us) is neither: the partition check that follows judges that topic."""
    created: list[str] = []
    refused: list[str] = []
    for error in topic_errors:
        name, code = str(error[0]), int(str(error[1]))
        message = error[2] if len(error) > 2 else None  # v0 answers carry no message
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            kind = for_code(code)
            reason = " ".join(str(message or kind.description).split())
            refused.append(
                f"{name}: refused by the broker: {kind.message} (error {code}): {reason}"
            )
    return created, refused


def changelog_topics(settings: Settings) -> list[str]:
    """Faust's changelog names. Created here, compacted and with the source topic's partition
    count, so a worker never writes a table before its changelog is in the metadata."""
    return [f"{settings.app_id}-{table}-changelog" for table in TABLES]


def _retention_ms(settings: Settings) -> str:
    return str(int(settings.personal_topic_retention_hours * 3600 * 1000))


SEGMENT_MS_MAX = 24 * 3600 * 1000


def retention_configs(settings: Settings) -> dict[str, str]:
    """commands, events and dead letters carry sealed contacts, so their records must go.
    Kafka deletes whole segments, once a segment's newest record is older than
    retention.ms; a segment in use closes only segment.ms after its first record (the
    broker's default: 7 d), so with retention.ms alone a record could stay retention.ms +
    7 d. With segment.ms = min(retention.ms, 24 h) a record is gone at most retention.ms +
    segment.ms after it was written (168 h + 24 h by default), plus the broker's retention
    check interval (log.retention.check.interval.ms, 5 min by default)."""
    retention = _retention_ms(settings)
    return {"retention.ms": retention, "segment.ms": str(min(int(retention), SEGMENT_MS_MAX))}


def retention_topics(settings: Settings) -> list[str]:
    return [settings.commands_topic, settings.events_topic, settings.dead_letter_topic]


def compacted_topics(settings: Settings) -> list[str]:
    """Topics that keep the latest record per key: Faust's changelogs and the `config`
    topic (dispatcher/config: one current state per entity, read from the beginning)."""
    return [*changelog_topics(settings), settings.config_topic]


def topic_names(settings: Settings) -> list[str]:
    return [
        settings.commands_topic,
        settings.events_topic,
        settings.dead_letter_topic,
        *changelog_topics(settings),
        settings.config_topic,
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; return the names created. Existing topics are checked, and
    commands, events and dead letters given retention_configs (_update_retention). A topic
    the broker refuses to create (not authorized, too few brokers for the replication
    factor, a policy) raises TopicsRefused, one line per topic."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        changelogs = set(changelog_topics(settings))
        compacted = set(compacted_topics(settings))
        wanted = [
            NewTopic(
                name=name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                # No min.insync.replicas here: the cluster's value (2 on a 3-broker
                # cluster) must hold, or an acknowledged command could die with a broker.
                topic_configs=(
                    # A request's table record holds its sealed contact; 24 h after it
                    # closes a tombstone replaces it, and compaction must then drop the
                    # older values within the same bound as the other topics.
                    {"cleanup.policy": "compact", "max.compaction.lag.ms": _retention_ms(settings)}
                    if name in changelogs
                    # The configuration: one current state per entity, kept (no personal data).
                    else {"cleanup.policy": "compact"}
                    if name in compacted
                    # commands, events and dead letters carry sealed contacts: bounded
                    else retention_configs(settings)
                ),
            )
            for name in topic_names(settings)
            if name not in existing
        ]
        created: list[str] = []
        if wanted:
            try:
                response = await admin.create_topics(wanted)
            except TopicAlreadyExistsError:  # another process raced us: fine
                pass
            else:
                created, refused = _refusals(response.topic_errors)
                if refused:  # not authorized, too few brokers, a policy: say so, now
                    raise TopicsRefused(refused)
        await _check_partitions(admin, settings, fresh=set(created))
        # Every topic not created now existed: in `existing`, or made by another process
        # since (refused as existing; or this broker's metadata lagged behind its creation).
        await _update_retention(admin, settings, set(topic_names(settings)) - set(created))
        return created
    finally:
        await admin.close()


async def _update_retention(
    admin: AIOKafkaAdminClient, settings: Settings, existing: set[str]
) -> list[str]:
    """Existing commands, events and dead-letter topics get retention_configs too (an
    upgrade from a version without segment.ms, a changed
    DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS); their other settings are kept. A topic whose
    configuration this user may not read is left to whoever manages it (deploy/k8s:
    Strimzi's topic operator sets the KafkaTopics' config, the same); one it may read but
    not change is logged. Returns the names updated."""
    names = [n for n in retention_topics(settings) if n in existing]
    if not names:
        return []
    wanted = retention_configs(settings)
    changes: list[ConfigResource] = []
    for response in await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    ):
        # (error, message, type, name, configs); a config: (key, value, read_only, source,
        # sensitive, synonyms); source 1 = set on the topic itself.
        for error, _, _, name, configs in response.resources:
            if error:
                log.info(
                    "topics: %s: configuration not readable (error %s): left as is", name, error
                )
                continue
            overrides = {c[0]: c[1] for c in configs if c[3] == 1}
            if any(v is None for v in overrides.values()):
                log.warning("topics: %s: a sensitive setting: retention left as is", name)
                continue
            if all(overrides.get(k) == v for k, v in wanted.items()):
                continue
            changes.append(
                ConfigResource(ConfigResourceType.TOPIC, name, configs=overrides | wanted)
            )
    updated: list[str] = []
    if changes:
        # AlterConfigs replaces a topic's settings: hence every override it had, with ours.
        for response in await admin.alter_configs(changes):
            for error, message, _, name in response.resources:
                if error:
                    log.warning(
                        "topics: %s: retention settings %s refused (error %s): %s",
                        name,
                        wanted,
                        error,
                        message,
                    )
                else:
                    log.info("topics: %s: retention settings now %s", name, wanted)
                    updated.append(name)
    return updated


async def _check_partitions(
    admin: AIOKafkaAdminClient, settings: Settings, fresh: set[str]
) -> None:
    """Every topic must have the configured partition count. Just-created topics may take a
    moment to show all partitions in metadata, so look again for a few seconds."""
    for attempt in range(40):
        wrong: list[str] = []
        for desc in await admin.describe_topics(topic_names(settings)):
            n = len(desc.get("partitions") or [])
            if desc.get("error_code") or n != settings.topic_partitions:
                wrong.append(f"{desc['topic']} has {n}")
        if not wrong:
            return
        stale_only = all(w.split()[0] in fresh for w in wrong)
        if not stale_only and attempt >= 10:
            raise RuntimeError(
                f"topic partitions differ from settings ({settings.topic_partitions}): "
                f"{', '.join(wrong)}; changelogs would not match (reset the stack)"
            )
        await asyncio.sleep(0.25)
    raise RuntimeError(f"topics not ready after 10 s: {', '.join(wrong)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher topics", description="Create the project's Kafka topics."
    )
    parser.parse_args(argv)
    settings = get_settings()
    try:
        created = asyncio.run(ensure_topics(settings))
    except (KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
        # One line, not a traceback (aiokafka's own log line above it gives the cause).
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(
            f"topics: Kafka at {settings.kafka_bootstrap} not reachable: {reason}",
            file=sys.stderr,
        )
        return EX_UNAVAILABLE
    except TopicsRefused as exc:
        for line in exc.lines:
            print(f"topics: Kafka at {settings.kafka_bootstrap}: {line}", file=sys.stderr)
        return EX_UNAVAILABLE
    names = ", ".join(topic_names(settings))
    print(f"topics ready ({settings.topic_partitions} partitions): {names}; created now: {created}")
    return 0

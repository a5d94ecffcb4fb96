"""How long Kafka keeps personal data: commands, events and dead letters get segment.ms.

Kafka deletes whole segments, once a segment's newest record is older than retention.ms,
and a segment in use closes only segment.ms after its first record: the broker's default
7 d. With retention.ms alone a record could stay 168 h + 7 d = 336 h, not the promised
DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS (session 38's audit watched a record outlive a 5 s
retention for 420 s on the dev broker, and go with segment.ms 5 s). ensure_topics now sets
segment.ms = min(retention.ms, 24 h) (bound: retention.ms + segment.ms), on new topics and
on existing ones (an upgrade), keeping their other settings. Asked of the real broker.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from streams.topics import changelog_topics, ensure_topics, retention_topics, topic_names
from tests.support.k8s import topic_overrides
from tests.support.waiting import eventually

HOUR_MS = 3_600_000


def _fresh(stack: LocalStack, tag: str, **more: object) -> Settings:
    return stack.settings(
        commands_topic=stack.topic(f"{tag}-commands"),
        events_topic=stack.topic(f"{tag}-events"),
        dead_letter_topic=stack.topic(f"{tag}-deadletter"),
        config_topic=stack.topic(f"{tag}-config"),
        app_id=f"{stack.app_id}-{tag}",
        **more,
    )


async def test_new_personal_topics_close_a_segment_at_least_daily(stack: LocalStack) -> None:
    settings = _fresh(stack, "seg")  # DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS: 168
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(topic_names(settings))
    found = await topic_overrides(settings, topic_names(settings))
    for name in retention_topics(settings):
        assert found[name] == {"retention.ms": str(168 * HOUR_MS), "segment.ms": str(24 * HOUR_MS)}
    for name in [*changelog_topics(settings), settings.config_topic]:
        assert "segment.ms" not in found[name], name  # compacted, no deletion by age
    # A retention under a day: a segment closes as often as records expire.
    short = _fresh(stack, "seg6h", personal_topic_retention_hours=6)
    await ensure_topics(short)
    found = await topic_overrides(short, retention_topics(short))
    for name in retention_topics(short):
        assert found[name] == {"retention.ms": str(6 * HOUR_MS), "segment.ms": str(6 * HOUR_MS)}


async def test_an_upgrade_gives_existing_topics_the_segment_bound(stack: LocalStack) -> None:
    """Topics an older version made (retention.ms only; here one with a setting of its own,
    max.message.bytes, which the worker's start-up check reads) get segment.ms from the
    next `python -m dispatcher topics`; the other settings stay."""
    settings = _fresh(stack, "upg")
    old = {"retention.ms": str(168 * HOUR_MS)}
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        answer = await admin.create_topics(
            [
                NewTopic(
                    name,
                    settings.topic_partitions,
                    1,
                    topic_configs=old | {"max.message.bytes": "2097152"}
                    if name == settings.events_topic
                    else old,
                )
                for name in retention_topics(settings)
            ]
        )
        assert all(e[1] == 0 for e in answer.topic_errors), answer.topic_errors
    finally:
        await admin.close()
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(set(topic_names(settings)) - set(retention_topics(settings)))
    bound = {"retention.ms": str(168 * HOUR_MS), "segment.ms": str(24 * HOUR_MS)}
    expected = {name: bound for name in retention_topics(settings)}
    expected[settings.events_topic] = bound | {"max.message.bytes": "2097152"}
    # The controller has committed the change when AlterConfigs answers; the broker that
    # describes it applies its metadata a moment later.
    await _eventually_configs(settings, expected)
    # A changed DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS reaches them the same way.
    await ensure_topics(settings.model_copy(update={"personal_topic_retention_hours": 48}))
    shorter = {"retention.ms": str(48 * HOUR_MS), "segment.ms": str(24 * HOUR_MS)}
    expected = {name: shorter for name in retention_topics(settings)}
    expected[settings.events_topic] = shorter | {"max.message.bytes": "2097152"}
    await _eventually_configs(settings, expected)


async def _eventually_configs(settings: Settings, expected: dict[str, dict[str, str]]) -> None:
    last: dict[str, dict[str, str]] = {}

    async def matches() -> bool:
        nonlocal last
        last = await topic_overrides(settings, sorted(expected))
        return last == expected

    await eventually(matches, what="the topics' configs", explain=lambda: repr(last))

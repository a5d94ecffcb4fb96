"""Kafka ACLs as the deployment declares them (deploy/k8s/kafka-strimzi.yaml, KafkaUser),
derived from the code's own topic and group names, and applied to a real broker with
Kafka's CreateAcls request (aiokafka has the request, not an admin method for it)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from dispatcher.groupchat.loop import group_replies_group
from dispatcher.maintenance import rekey_helpers
from dispatcher.settings import Settings
from streams.config_agent import config_record_group
from streams.record_agent import record_group
from streams.topics import changelog_topics

# (resource type, name, pattern type) → operations, as a Strimzi KafkaUser writes them.
Acls = dict[tuple[str, str, str], set[str]]


def expected_acls(settings: Settings) -> dict[str, Acls]:
    """What each process does with Kafka, from the code's own names: the least it needs."""
    commands, events = settings.commands_topic, settings.events_topic
    dead, changelogs = settings.dead_letter_topic, changelog_topics(settings)
    api: Acls = {
        ("topic", commands, "literal"): {"Write", "Describe"},  # command_queue / producer
        ("topic", events, "literal"): {"Read", "Describe"},  # live feed, group replies
        ("group", group_replies_group(settings), "literal"): {"Read"},
        # dispatcher/config: follows the configuration (no group) and writes its changes
        ("topic", settings.config_topic, "literal"): {"Read", "Write", "Describe"},
        # the dashboard's stream health (dispatcher/ops/stream_health.py): the groups' lag
        ("group", settings.app_id, "literal"): {"Describe"},
        ("group", record_group(settings), "literal"): {"Describe"},
    }
    for name in (dead, *changelogs):  # `dispatcher topics` in its init container: checks
        api[("topic", name, "literal")] = {"Describe"}
    worker: Acls = {
        ("topic", commands, "literal"): {"Read", "Write", "Describe", "Create"},
        # DescribeConfigs: its max.message.bytes, read at start-up (streams/record_limit.py)
        ("topic", events, "literal"): {"Read", "Write", "Describe", "Create", "DescribeConfigs"},
        ("topic", dead, "literal"): {"Write", "Describe", "Create"},
        ("group", settings.app_id, "literal"): {"Read"},  # Faust's group
        ("group", record_group(settings), "literal"): {"Read"},
        ("group", rekey_helpers.GROUP_PREFIX, "prefix"): {"Read"},  # dispatcher/maintenance
        # the live configuration: followed from the start (an empty store seeded), recorded
        ("topic", settings.config_topic, "literal"): {"Read", "Write", "Describe", "Create"},
        ("group", config_record_group(settings), "literal"): {"Read"},
    }
    for name in changelogs:
        worker[("topic", name, "literal")] = {"Read", "Write", "Describe", "Create"}
    return {"dispatch-api": api, "dispatch-worker": worker}


# Kafka's wire enums (org.apache.kafka.common.resource / acl).
_RESOURCE = {"topic": 2, "group": 3, "cluster": 4, "transactionalId": 5}
_PATTERN = {"literal": 3, "prefix": 4}
_OPERATION = {
    "All": 2, "Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8,
    "ClusterAction": 9, "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12,
}  # fmt: skip
_ALLOW = 3


async def apply_acls(admin: AIOKafkaAdminClient, user: str, acls: Acls) -> int:
    """Create `User:<user>` ALLOW bindings for every (resource, operation); the count."""
    n = 0
    for (kind, name, pattern), operations in sorted(acls.items()):
        for op in sorted(operations):
            request = CreateAclsRequest(
                _RESOURCE[kind],
                name,
                _PATTERN[pattern],
                f"User:{user}",
                "*",
                _OPERATION[op],
                _ALLOW,
            )
            response = await admin._send_to_controller(request)
            ((error, message),) = response.creation_responses
            assert error == 0, f"CreateAcls {kind}:{name} {op}: {error} {message}"
            n += 1
    return n

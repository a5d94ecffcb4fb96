"""`python -m dispatcher topics` when the broker refuses to create a topic.

aiokafka's create_topics returns the broker's per-topic errors instead of raising them;
before session 38 ensure_topics took every topic it asked for as created, looked for their
partitions for 10 s and died with "topics not ready after 10 s" and a traceback, never
naming the refusal. Now: one line per refused topic with the broker's reason, exit 69.
Shown on the real broker: replication factor 3 on the one-broker stack, and the API's
KafkaUser (Describe, no Create: deploy/k8s/kafka-strimzi.yaml) on the ACL-secured broker.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.kafka_security import client_options
from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack
from streams.topics import EX_UNAVAILABLE, TopicsRefused, ensure_topics, topic_names
from tests.integration import test_kafka_acls as acls
from tests.support.waiting import eventually

# The ACL-secured broker and its namespace (test_kafka_acls.py's fixtures).
broker = acls.broker
secured = acls.secured


def _fresh(stack: LocalStack, tag: str) -> dict[str, str]:
    """Topic names no process has created."""
    return {
        "DISPATCH_COMMANDS_TOPIC": stack.topic(f"{tag}-commands"),
        "DISPATCH_EVENTS_TOPIC": stack.topic(f"{tag}-events"),
        "DISPATCH_DEAD_LETTER_TOPIC": stack.topic(f"{tag}-deadletter"),
        "DISPATCH_CONFIG_TOPIC": stack.topic(f"{tag}-config"),
        "DISPATCH_APP_ID": f"{stack.app_id}-{tag}",
    }


def test_replication_beyond_the_brokers_is_one_line_per_topic_and_exit_69(
    stack: LocalStack,
) -> None:
    env = stack.env(**_fresh(stack, "rf3"), DISPATCH_TOPIC_REPLICATION_FACTOR="3")
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "topics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO_ROOT),
    )
    assert done.returncode == EX_UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr and "not ready" not in done.stderr
    settings = stack.settings(
        **{
            k.removeprefix("DISPATCH_").lower(): v
            for k, v in env.items()
            if k.startswith("DISPATCH_")
        }
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("topics: ")]
    assert len(lines) == len(topic_names(settings)) == 6, done.stderr
    for name, line in zip(sorted(topic_names(settings)), sorted(lines), strict=True):
        assert f": {name}: refused by the broker: INVALID_REPLICATION_FACTOR (error 38)" in line
        assert "only 1 broker(s) are registered" in line  # the broker's own words


async def test_the_api_user_cannot_create_and_is_told_so(
    broker: acls.SecuredBroker, secured: LocalStack
) -> None:
    """deploy/k8s: the API's init container runs `topics` as dispatch-api, which may
    describe the topics but not create them; with one missing (the first rollout, before the
    topic operator or the worker's init container made it) the broker refuses, and `topics`
    says so (Kubernetes retries the init container) instead of waiting for partitions."""
    api = secured.settings(
        **{k.removeprefix("DISPATCH_").lower(): v for k, v in broker.env("dispatch-api").items()}
    )
    missing = api.dead_letter_topic  # the API's ACL on it: Describe only
    operator = AIOKafkaAdminClient(bootstrap_servers=broker.internal)
    viewer = AIOKafkaAdminClient(**client_options(api))
    await operator.start()
    await viewer.start()
    try:
        await operator.delete_topics([missing])

        async def gone() -> bool:
            return missing not in await viewer.list_topics()

        await eventually(gone, what=f"{missing} deleted, as the API sees it")
        with pytest.raises(TopicsRefused) as refused:
            await ensure_topics(api)
    finally:
        await viewer.close()
        await operator.close()
    (line,) = refused.value.lines
    assert line.startswith(f"{missing}: refused by the broker: TOPIC_AUTHORIZATION_FAILED")


async def test_the_worker_user_passes_on_existing_topics(
    broker: acls.SecuredBroker, secured: LocalStack
) -> None:
    """Its init container in deploy/k8s, every restart: the topics exist (the topic operator
    keeps their config), and the retention check (streams/topics.py _update_retention) may
    not read the commands' or dead letters' configuration as dispatch-worker (no
    DescribeConfigs there): left to the topic operator, not an error."""
    worker = secured.settings(
        **{k.removeprefix("DISPATCH_").lower(): v for k, v in broker.env("dispatch-worker").items()}
    )
    # (The test above deleted the dead letters' topic: the worker may create it again.)
    assert set(await ensure_topics(worker)) <= {worker.dead_letter_topic}
    assert await ensure_topics(worker) == []
